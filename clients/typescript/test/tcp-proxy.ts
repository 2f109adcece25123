/**
 * A TCP proxy whose connections a test cuts at will: bytes flow both ways until `cut()` destroys
 * every connection open at that moment (new ones are accepted as before), as a dropped network
 * path or a restarted load balancer ends a client's streams mid-flight.
 */
import * as net from "node:net";

export class TcpProxy {
  /** Connections accepted so far. */
  connections = 0;
  private readonly open = new Set<net.Socket>();
  private readonly server: net.Server;

  private constructor(upstream: URL) {
    this.server = net.createServer((client) => {
      this.connections++;
      const target = net.connect(Number(upstream.port), upstream.hostname);
      for (const socket of [client, target]) {
        this.open.add(socket);
        socket.on("close", () => this.open.delete(socket));
        socket.on("error", () => undefined);
      }
      client.pipe(target);
      target.pipe(client);
      client.on("close", () => target.destroy());
      target.on("close", () => client.destroy());
    });
  }

  /** A proxy in front of `upstreamUrl` (`http://host:port`), listening on a free port. */
  static async start(upstreamUrl: string): Promise<TcpProxy> {
    const proxy = new TcpProxy(new URL(upstreamUrl));
    await new Promise<void>((resolve) => proxy.server.listen(0, "127.0.0.1", resolve));
    return proxy;
  }

  /** `http://127.0.0.1:<port>`. */
  get url(): string {
    const address = this.server.address() as net.AddressInfo;
    return `http://127.0.0.1:${address.port}`;
  }

  /** Destroys every open connection, both sides; returns how many client connections that was. */
  cut(): number {
    const sockets = [...this.open];
    this.open.clear();
    for (const socket of sockets) socket.destroy();
    return sockets.length / 2;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
