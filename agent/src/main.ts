import { main } from "./cli.ts";

const code = await main(process.argv.slice(2));
// Exit explicitly: an idle keep-alive socket must not hold a stopped agent open.
process.exit(code);
