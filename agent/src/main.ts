import { main } from "./cli.ts";

const code = await main(process.argv.slice(2));
// Exit explicitly: a handle left open by a library must not keep a stopped agent alive.
process.exit(code);
