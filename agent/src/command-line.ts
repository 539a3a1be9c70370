/**
 * What both command lines (`mnemo-agent` for providers, `mnemo` for renters) do alike before any
 * command runs: the main help, `help <command>`, the version, and an unknown command. Each CLI
 * keeps its own words (help texts, error sentences) and its own commands.
 */
import { VERSION } from "./version.ts";

/** Wrong flags or arguments: exit code 2, one line, no stack trace. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** One command: its arguments after the command word, and that word (several may share a runner). */
export type Command = (args: string[], command: string) => number | Promise<number>;

export interface CommandLine {
  /** `--help`, `-h`, or no command at all. */
  mainHelp: string;
  /** `help <command>` and `<command> --help`. */
  help: Record<string, string>;
  /** The usage error for `help <command>` naming no command. */
  unknownHelp: (command: string) => string;
  /** The usage error for an unknown command. */
  unknownCommand: (command: string) => string;
  commands: Record<string, Command>;
}

export function printHelp(cli: CommandLine, command?: string): number {
  // Own keys only, here too: `help toString` used to write Object.prototype.toString and crash.
  if (command && !Object.hasOwn(cli.help, command)) throw new UsageError(cli.unknownHelp(command));
  process.stdout.write(command ? cli.help[command] : cli.mainHelp);
  return 0;
}

/** Runs the command `argv` names; its usage errors are thrown, for the CLI's own `main` to print. */
export async function dispatch(cli: CommandLine, argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case "-h":
    case "--help":
      return printHelp(cli);
    case "help":
      return printHelp(cli, rest[0]);
    case "-v":
    case "--version":
    case "version":
      process.stdout.write(`${VERSION}\n`);
      return 0;
  }
  // Own keys only: "toString" or "constructor" is an unknown command, not Object.prototype's.
  const run = Object.hasOwn(cli.commands, command) ? cli.commands[command] : undefined;
  if (!run) throw new UsageError(cli.unknownCommand(command));
  return await run(rest, command);
}
