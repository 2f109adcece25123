/**
 * A real HTTP/2 (h2c) server speaking the gRPC wire protocol, answering what each test scripts:
 * for retries, deadlines, token providers and mid-stream errors, which the real server cannot
 * be made to produce on demand.
 */
import { create, toBinary, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { ErrorInfoSchema } from "@agent-sessions/client/gen/google/rpc/error_details_pb";
import { StatusSchema, type Status } from "@agent-sessions/client/gen/google/rpc/status_pb";

/** One request the server received. */
export interface ReceivedCall {
  /** `/agentsessions.v1.SessionService/GetSession` */
  path: string;
  /** The method name alone: `GetSession`. */
  method: string;
  authorization: string | undefined;
  grpcTimeout: string | undefined;
  /** Whether the client has closed or reset the stream. */
  closed: boolean;
}

/**
 * What to answer: messages then a status (0 by default); messages then nothing more (`hang`);
 * or nothing at all.
 */
export type Reply = { messages?: Uint8Array[]; status?: Status; hang?: boolean } | "hang";

export type Handler = (call: ReceivedCall, nth: number) => Reply;

/** A serialized message of `schema`. */
export function encode<Desc extends DescMessage>(
  schema: Desc,
  init: MessageInitShape<Desc>,
): Uint8Array {
  return toBinary(schema, create(schema, init));
}

/** A google.rpc.Status with an ErrorInfo (domain agentsessions.v1). */
export function status(code: number, message: string, reason?: string): Status {
  const details =
    reason === undefined
      ? []
      : [anyPack(ErrorInfoSchema, create(ErrorInfoSchema, { reason, domain: "agentsessions.v1" }))];
  return create(StatusSchema, { code, message, details });
}

function frame(message: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + message.length);
  new DataView(out.buffer).setUint32(1, message.length);
  out.set(message, 5);
  return out;
}

export class FakeGrpcServer {
  readonly calls: ReceivedCall[] = [];
  private readonly server: http2.Http2Server;
  private readonly sessions = new Set<http2.ServerHttp2Session>();

  constructor(handler: Handler) {
    this.server = http2.createServer();
    this.server.on("session", (session) => {
      this.sessions.add(session);
      session.on("close", () => this.sessions.delete(session));
    });
    this.server.on("stream", (stream, headers) => {
      const path = String(headers[":path"]);
      const call: ReceivedCall = {
        path,
        method: path.slice(path.lastIndexOf("/") + 1),
        authorization: headers["authorization"] as string | undefined,
        grpcTimeout: headers["grpc-timeout"] as string | undefined,
        closed: false,
      };
      stream.on("close", () => {
        call.closed = true;
      });
      this.calls.push(call);
      const nth = this.calls.filter((c) => c.path === path).length;
      const reply = handler(call, nth);
      stream.on("error", () => undefined);
      stream.resume();
      if (reply === "hang") return;
      stream.respond(
        { ":status": 200, "content-type": "application/grpc" },
        { waitForTrailers: true },
      );
      stream.on("wantTrailers", () => {
        const s = reply.status ?? create(StatusSchema, { code: 0 });
        const trailers: http2.OutgoingHttpHeaders = { "grpc-status": String(s.code) };
        if (s.message) trailers["grpc-message"] = encodeURIComponent(s.message);
        if (s.details.length > 0) {
          trailers["grpc-status-details-bin"] = Buffer.from(toBinary(StatusSchema, s))
            .toString("base64")
            .replace(/=+$/, "");
        }
        stream.sendTrailers(trailers);
      });
      for (const message of reply.messages ?? []) stream.write(frame(message));
      if (!reply.hang) stream.end();
    });
  }

  /** Listens on a free loopback port and returns its base URL. */
  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** How many calls of `method` arrived. */
  count(method: string): number {
    return this.calls.filter((c) => c.method === method).length;
  }

  async stop(): Promise<void> {
    for (const session of this.sessions) session.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
