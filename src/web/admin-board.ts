import type { IncomingMessage, ServerResponse } from "node:http";
import { createBullBoard } from "@bull-board/api";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { ExpressAdapter } from "@bull-board/express";
import express from "express";
import type { Queues } from "../queue/queues.js";
import { QUEUES_PATH, withoutExternalFonts } from "./admin.js";

/**
 * Bull Board at /admin/queues, with express and its view engine: about 4 MB of heap a web process
 * holds only once someone signed in opens the board, so admin.ts imports this module on the first
 * admitted request for it (loadQueuesBoard), never at start.
 */

type Render = (path: string, options: object, callback: (error: Error | null, html?: string) => void) => void;

/** Wraps the board's view engine (ejs, registered by the adapter) so its page goes out without external fonts. */
function offline(board: express.Application): void {
  const engines = (board as unknown as { engines: Record<string, Render | undefined> }).engines;
  const render = engines[".ejs"];
  if (!render) throw new Error("Bull Board's view engine is not registered: @bull-board/express changed how it renders its page");
  board.engine("ejs", (path, options, callback) => render(path, options, (error, page) => callback(error, page === undefined ? page : withoutExternalFonts(page))));
}

/** The board over the relay's four queues, as an express app mounted at QUEUES_PATH. */
export function queuesBoard(queues: Queues): (req: IncomingMessage, res: ServerResponse) => void {
  const board = new ExpressAdapter();
  board.setBasePath(QUEUES_PATH);
  createBullBoard({
    queues: [queues.events, queues.trigger, queues.report, queues.sinks].map((q) => new BullMQAdapter(q, { readOnlyMode: false })),
    serverAdapter: board,
    options: { uiConfig: { boardTitle: "OpenCI Relay" } },
  });
  offline(board.getRouter() as express.Application);
  const app = express();
  app.disable("x-powered-by");
  app.use(QUEUES_PATH, board.getRouter());
  return (req, res) => app(req as express.Request, res as express.Response);
}
