/** MessagesApi over gRPC: agentsessions.v1.MessageService. */
import type { Client } from "@connectrpc/connect";
import type { MessagesApi } from "../api.js";
import { paginate } from "../pagination.js";
import { requestId } from "../retry.js";
import type * as t from "../types.js";
import { MessageService } from "../gen/agentsessions/v1/message_service_pb.js";
import type { Caller } from "./call.js";
import { messageFromProto, newMessageToProto, newSessionToProto } from "./convert.js";
import { change } from "./sessions.js";

/** The service's RPCs: their protos say which calls are safe to retry. */
const rpcs = MessageService.method;

export class GrpcMessages implements MessagesApi {
  constructor(
    private readonly rpc: Client<typeof MessageService>,
    private readonly call: Caller,
  ) {}

  async create(
    sessionId: string,
    input: t.CreateMessageInput,
    options?: t.AppendOptions,
  ): Promise<t.Message> {
    const request = {
      ...newMessageToProto(input),
      sessionId,
      requestId: requestId(options),
      expectedSeq: options?.expectedSeq,
    };
    return messageFromProto(
      await this.call.unary(rpcs.createMessage, options, (o) => this.rpc.createMessage(request, o)),
    );
  }

  async createBatch(
    sessionId: string,
    messages: t.CreateMessageInput[],
    options?: t.BatchOptions,
  ): Promise<t.Message[]> {
    const request = {
      sessionId,
      messages: messages.map(newMessageToProto),
      requestId: requestId(options),
      expectedSeq: options?.expectedSeq,
      createSession: newSessionToProto(options?.createSession),
    };
    const response = await this.call.unary(rpcs.batchCreateMessages, options, (o) =>
      this.rpc.batchCreateMessages(request, o),
    );
    return response.messages.map(messageFromProto);
  }

  async get(sessionId: string, messageId: string, options?: t.CallOptions): Promise<t.Message> {
    return messageFromProto(
      await this.call.unary(rpcs.getMessage, options, (o) =>
        this.rpc.getMessage({ sessionId, messageId }, o),
      ),
    );
  }

  async listPage(
    sessionId: string,
    filters: t.ListMessagesOptions = {},
    options?: t.CallOptions,
  ): Promise<t.MessagePage> {
    const request = {
      sessionId,
      pageSize: filters.pageSize ?? 0,
      pageToken: filters.pageToken ?? "",
      order: filters.order ?? "",
    };
    const page = await this.call.unary(rpcs.listMessages, options, (o) =>
      this.rpc.listMessages(request, o),
    );
    return {
      messages: page.messages.map(messageFromProto),
      nextPageToken: page.nextPageToken,
      totalSize: page.totalSize,
    };
  }

  list(
    sessionId: string,
    filters: t.ListMessagesOptions = {},
    options?: t.CallOptions,
  ): AsyncIterable<t.Message> {
    return paginate(async (pageToken) => {
      const page = await this.listPage(sessionId, { ...filters, pageToken }, options);
      return { items: page.messages, nextPageToken: page.nextPageToken };
    }, filters.pageToken);
  }

  async update(
    sessionId: string,
    messageId: string,
    changes: t.MessageChanges,
    options?: t.ChangeOptions,
  ): Promise<t.Message> {
    const request = { ...changes, sessionId, messageId, ...change(options) };
    return messageFromProto(
      await this.call.unary(rpcs.updateMessage, options, (o) => this.rpc.updateMessage(request, o)),
    );
  }

  async delete(sessionId: string, messageId: string, options?: t.ChangeOptions): Promise<void> {
    const request = { sessionId, messageId, ...change(options) };
    await this.call.unary(rpcs.deleteMessage, options, (o) => this.rpc.deleteMessage(request, o));
  }

  async clear(sessionId: string, options?: t.WriteOptions): Promise<number> {
    const request = { sessionId, requestId: requestId(options) };
    const response = await this.call.unary(rpcs.clearMessages, options, (o) =>
      this.rpc.clearMessages(request, o),
    );
    return response.deletedCount;
  }
}
