#!/usr/bin/env node
import { main } from "./main.js";

const writeBytes = (b: Uint8Array) =>
  new Promise<void>((resolve, reject) => process.stdout.write(b, (e) => (e ? reject(e) : resolve())));

process.exitCode = await main(process.argv.slice(2), process.env, (s) => process.stdout.write(s), (s) => process.stderr.write(s), writeBytes);
