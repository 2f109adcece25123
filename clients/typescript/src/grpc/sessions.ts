/** SessionsApi over gRPC: agentsessions.v1.SessionService's session calls. */
import type { Client } from "@connectrpc/connect";
import type { SessionsApi } from "../api.js";
import { paginate } from "../pagination.js";
import { requestId } from "../retry.js";
import { labelFilters } from "../types.js";
import type * as t from "../types.js";
import { SessionService } from "../gen/agentsessions/v1/session_service_pb.js";
import type { Caller } from "./call.js";
import { sessionFromProto, timestampOf } from "./convert.js";

/** The service's RPCs: their protos say which calls are safe to retry. */
const rpcs = SessionService.method;

/** The request id and etag fields of a change, made once for all its attempts. */
export function change(options: t.ChangeOptions | undefined): { requestId: string; etag: string } {
  return { requestId: requestId(options), etag: options?.etag ?? "" };
}

export class GrpcSessions implements SessionsApi {
  constructor(
    private readonly rpc: Client<typeof SessionService>,
    private readonly call: Caller,
  ) {}

  async create(input: t.CreateSessionInput = {}, options?: t.WriteOptions): Promise<t.Session> {
    const request = {
      ...input,
      sessionId: input.sessionId ?? "",
      labels: input.labels ?? {},
      expireTime: timestampOf(input.expireTime),
      requestId: requestId(options),
    };
    return sessionFromProto(
      await this.call.unary(rpcs.createSession, options, (o) => this.rpc.createSession(request, o)),
    );
  }

  async get(sessionId: string, options?: t.CallOptions): Promise<t.Session> {
    return sessionFromProto(
      await this.call.unary(rpcs.getSession, options, (o) => this.rpc.getSession({ sessionId }, o)),
    );
  }

  async listPage(
    filters: t.ListSessionsOptions = {},
    options?: t.CallOptions,
  ): Promise<t.SessionPage> {
    const request = {
      pageSize: filters.pageSize ?? 0,
      pageToken: filters.pageToken ?? "",
      isActive: filters.isActive,
      agentName: filters.agentName,
      label: labelFilters(filters.labels),
    };
    const page = await this.call.unary(rpcs.listSessions, options, (o) =>
      this.rpc.listSessions(request, o),
    );
    return {
      sessions: page.sessions.map(sessionFromProto),
      nextPageToken: page.nextPageToken,
      totalSize: page.totalSize,
    };
  }

  list(filters: t.ListSessionsOptions = {}, options?: t.CallOptions): AsyncIterable<t.Session> {
    return paginate(async (pageToken) => {
      const page = await this.listPage({ ...filters, pageToken }, options);
      return { items: page.sessions, nextPageToken: page.nextPageToken };
    }, filters.pageToken);
  }

  async update(
    sessionId: string,
    changes: t.SessionChanges,
    options?: t.ChangeOptions,
  ): Promise<t.Session> {
    const request = {
      ...changes,
      // A Struct, not a map: `{}` is present and removes every label.
      labels: changes.labels,
      expireTime: timestampOf(changes.expireTime),
      sessionId,
      ...change(options),
    };
    return sessionFromProto(
      await this.call.unary(rpcs.updateSession, options, (o) => this.rpc.updateSession(request, o)),
    );
  }

  async delete(sessionId: string, options?: t.ChangeOptions): Promise<void> {
    const request = { sessionId, ...change(options) };
    await this.call.unary(rpcs.deleteSession, options, (o) => this.rpc.deleteSession(request, o));
  }

  async activate(sessionId: string, options?: t.ChangeOptions): Promise<t.Session> {
    const request = { sessionId, ...change(options) };
    return sessionFromProto(
      await this.call.unary(rpcs.activateSession, options, (o) =>
        this.rpc.activateSession(request, o),
      ),
    );
  }

  async deactivate(sessionId: string, options?: t.ChangeOptions): Promise<t.Session> {
    const request = { sessionId, ...change(options) };
    return sessionFromProto(
      await this.call.unary(rpcs.deactivateSession, options, (o) =>
        this.rpc.deactivateSession(request, o),
      ),
    );
  }

  async fork(
    sessionId: string,
    input: t.ForkSessionInput = {},
    options?: t.WriteOptions,
  ): Promise<t.Session> {
    const request = {
      sessionId,
      newSessionId: input.newSessionId ?? "",
      upToMessageId: input.upToMessageId ?? "",
      sessionName: input.sessionName,
      requestId: requestId(options),
    };
    return sessionFromProto(
      await this.call.unary(rpcs.forkSession, options, (o) => this.rpc.forkSession(request, o)),
    );
  }

  async rewind(
    sessionId: string,
    afterMessageId: string,
    options?: t.ChangeOptions & t.AppendOptions,
  ): Promise<t.Session> {
    const request = {
      sessionId,
      afterMessageId,
      expectedSeq: options?.expectedSeq,
      ...change(options),
    };
    return sessionFromProto(
      await this.call.unary(rpcs.rewindSession, options, (o) => this.rpc.rewindSession(request, o)),
    );
  }
}
