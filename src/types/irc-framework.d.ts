/**
 * irc-framework 4.14 ships no types: this declares only what the IRC chat transport
 * (src/sinks/transports/irc.ts) uses, as read from its src/client.js, src/connection.js and
 * src/transports/net.js.
 */
declare module "irc-framework" {
  import type { EventEmitter } from "node:events";

  namespace IrcFramework {
    interface ClientOptions {
      host: string;
      port: number;
      nick: string;
      username?: string;
      gecos?: string;
      tls?: boolean;
      /** false is never passed: the transport keeps certificate checks on */
      rejectUnauthorized?: boolean;
      /** SASL PLAIN with this account when the server offers the `sasl` capability */
      account?: { account: string; password: string };
      sasl_disconnect_on_fail?: boolean;
      /** the library's own reconnect is off: the transport reconnects with its own backoff */
      auto_reconnect?: boolean;
      ping_interval?: number;
      ping_timeout?: number;
      version?: string;
      /** a transport class (constructed with these options); defaults to the TCP/TLS one */
      transport?: new (options: ClientOptions) => NetTransport;
      /** read by the transport of src/sinks/transports/irc.ts, not by irc-framework */
      ca?: string[];
    }

    interface Connection {
      connected: boolean;
      /** writes one raw line (CRLF added); `callback` runs once the socket wrote it, or at once when not connected */
      write(line: string, callback?: (error?: Error | null) => void): unknown;
      /** sends `data` if given, then closes; `hadError` keeps it from counting as a requested disconnect */
      end(data?: string, hadError?: boolean): void;
    }

    interface NetTransport extends EventEmitter {
      options: ClientOptions;
      socket: import("node:net").Socket | null;
      state: number;
      incoming_buffer: Buffer;
      requested_disconnect: boolean;
      connect(): void;
      disposeSocket(): void;
      setEncoding(encoding: string): boolean;
      _onSocketCreate(options: ClientOptions, socket: import("node:net").Socket): void;
    }

    class Client extends EventEmitter {
      constructor(options?: Partial<ClientOptions>);
      readonly connected: boolean;
      connection: Connection;
      user: { nick: string };
      connect(options?: ClientOptions): void;
      raw(...args: (string | number)[]): void;
      join(channel: string, key?: string): void;
      changeNick(nick: string): void;
      quit(message?: string): void;
      caseCompare(a: string, b: string): boolean;
    }
  }

  export = IrcFramework;
}

/** irc-framework's TCP/TLS transport: extended to trust a given CA without turning checks off. */
declare module "irc-framework/src/transports/net.js" {
  import type IrcFramework from "irc-framework";

  const NetTransport: new (options: IrcFramework.ClientOptions) => IrcFramework.NetTransport;
  export = NetTransport;
}
