// "Copy answer" in hover. The server puts a command link under an answer or a value only for
// clients that declare they run it (rust-analyzer's `experimental.commands` capability), and
// the link names the result (uri, id) rather than carrying its text, which can be long. The
// command asks the server for the text (omega.answerText) and puts it on the clipboard.

import * as vscode from "vscode";
import { ClientCapabilities, FeatureState, StaticFeature } from "vscode-languageclient/node";

export const COPY_ANSWER = "omega.copyAnswer";

/** Declares at `initialize` the client-side commands the server may put in hover links. */
export class ClientCommands implements StaticFeature {
  constructor(private readonly commands: readonly string[]) {}

  fillClientCapabilities(capabilities: ClientCapabilities): void {
    const experimental = (capabilities.experimental ??= {}) as { commands?: { commands?: string[] } };
    const already = experimental.commands?.commands ?? [];
    experimental.commands = { commands: [...already, ...this.commands.filter((c) => !already.includes(c))] };
  }

  initialize(): void {}

  getState(): FeatureState {
    return { kind: "static" };
  }

  clear(): void {}
}

type AnswerText = { text?: unknown; kind?: unknown };

/**
 * The command a "Copy answer" link runs, with the link's arguments (uri, id). `request` runs
 * a server command and shows its failure (a result gone since the hover, say) to the user.
 */
export async function copyAnswer(
  request: (command: string, args: unknown[]) => Promise<unknown>,
  uri: unknown,
  id: unknown,
): Promise<void> {
  const result = (await request("omega.answerText", [uri, id])) as AnswerText | undefined;
  if (typeof result?.text !== "string") {
    return;
  }
  await vscode.env.clipboard.writeText(result.text);
  const what = result.kind === "value" ? "value" : "answer";
  vscode.window.setStatusBarMessage(`Omega: ${what} copied`, 5000);
}
