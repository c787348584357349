// The OmegaLLM extension: starts omega-lsp for .omega files and gives it the settings, the
// workspace trust, its log level and any stored API key; everything else (diagnostics, inline
// answers, hover) comes from the server through the language client.

import * as vscode from "vscode";
import {
  ConfigurationParams,
  LanguageClient,
  LanguageClientOptions,
  ServerOptions,
  State,
} from "vscode-languageclient/node";

import { ClientCommands, COPY_ANSWER, copyAnswer } from "./copyAnswer";
import { findServer, ServerNotFound } from "./server";
import { RunStatus, StatusBar } from "./status";

let client: LanguageClient | undefined;
let output: vscode.OutputChannel;
/** The server's channel: what omega-lsp logs (its stderr) and where it was found. One for all
 * the server's starts, so a restart does not leave a list of channels with the same name. */
let serverOutput: vscode.OutputChannel;
let statusBar: StatusBar;

/** Variables that may hold API keys; a key stored with Omega: Store API Key fills one in. */
const KEY_VARIABLES = ["OPENAI_API_KEY", "ANTHROPIC_API_KEY"];
const SECRET_PREFIX = "omega.apiKey.";

/** The `omega` settings section, with the workspace trust decided by VS Code, not by settings. */
function withTrust(section: unknown): Record<string, unknown> {
  const settings = { ...((section as Record<string, unknown>) ?? {}) };
  const evalSection = { ...((settings.eval as Record<string, unknown>) ?? {}) };
  evalSection.trusted = vscode.workspace.isTrusted;
  settings.eval = evalSection;
  delete settings.server; // the binary's path is the extension's business
  delete settings.trace;
  return settings;
}

function currentSettings(): Record<string, unknown> {
  const c = vscode.workspace.getConfiguration("omega");
  const section: Record<string, unknown> = {};
  for (const key of ["eval", "llm", "limits", "explore"]) {
    section[key] = c.get(key);
  }
  return withTrust(section);
}

function keyVariableNames(): string[] {
  const named = vscode.workspace.getConfiguration("omega").get<string>("llm.apiKeyEnv", "").trim();
  return named ? [named, ...KEY_VARIABLES.filter((k) => k !== named)] : KEY_VARIABLES;
}

/** The server's log level (`OMEGA_LOG`), from omega.server.logLevel. */
function logLevel(): string {
  return vscode.workspace.getConfiguration("omega").get<string>("server.logLevel", "warn");
}

/** The server's environment: ours, the log level, and stored keys for variables that are not set. */
async function serverEnv(context: vscode.ExtensionContext): Promise<NodeJS.ProcessEnv> {
  const env: NodeJS.ProcessEnv = { ...process.env, OMEGA_LOG: logLevel() };
  for (const name of keyVariableNames()) {
    if (!env[name]) {
      const key = await context.secrets.get(SECRET_PREFIX + name);
      if (key) {
        env[name] = key;
      }
    }
  }
  return env;
}

async function startClient(context: vscode.ExtensionContext): Promise<void> {
  let server;
  try {
    server = findServer(context);
  } catch (e) {
    if (e instanceof ServerNotFound) {
      serverOutput.appendLine(e.message);
      const choice = await vscode.window.showErrorMessage(e.message, "Open Settings");
      if (choice === "Open Settings") {
        // In a remote window (code-server, SSH, containers) the Settings editor lists
        // machine-scoped settings such as this one under Remote, not under User.
        const where = vscode.env.remoteName ? "workbench.action.openRemoteSettings" : "workbench.action.openSettings";
        void vscode.commands.executeCommand(where, { query: "omega.server.path" });
      }
      return;
    }
    throw e;
  }
  const serverOptions: ServerOptions = {
    command: server.path,
    args: [],
    options: { env: await serverEnv(context) },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ language: "omega" }],
    initializationOptions: { omega: currentSettings() },
    outputChannel: serverOutput,
    // Hover links may run this one command and no other ("Copy answer").
    markdown: { isTrusted: { enabledCommands: [COPY_ANSWER] } },
    middleware: {
      workspace: {
        configuration: async (params: ConfigurationParams, token, next) => {
          const result = await next(params, token);
          if (!Array.isArray(result)) {
            return result;
          }
          return result.map((value, i) =>
            params.items[i]?.section === "omega" ? withTrust(value) : value,
          );
        },
      },
    },
  };
  const c = new LanguageClient("omega", "OmegaLLM", serverOptions, clientOptions);
  c.registerFeature(new ClientCommands([COPY_ANSWER]));
  c.onNotification("omega/output", (p: { uri: string; text: string }) => {
    output.append(p.text);
  });
  c.onNotification("omega/evalStatus", (p: RunStatus) => statusBar.update(p));
  c.onDidChangeState((e) => {
    if (e.newState === State.Stopped) {
      statusBar.serverStopped();
    }
  });
  client = c;
  serverOutput.appendLine(`omega-lsp: ${server.path} (found through ${server.from}; log level ${logLevel()})`);
  await c.start();
}

async function stopClient(): Promise<void> {
  const c = client;
  client = undefined;
  if (c) {
    await c.stop().catch(() => undefined);
  }
}

function activeOmegaEditor(): vscode.TextEditor | undefined {
  const editor = vscode.window.activeTextEditor;
  if (!editor || editor.document.languageId !== "omega") {
    void vscode.window.showWarningMessage("Omega: open an .omega file first.");
    return undefined;
  }
  return editor;
}

/** Runs a server command; a refusal ({started: false}) is shown as a warning by the server. */
async function serverCommand(command: string, args: unknown[]): Promise<unknown> {
  if (!client || !client.isRunning()) {
    void vscode.window.showErrorMessage("Omega: the language server is not running (Omega: Restart Server).");
    return undefined;
  }
  try {
    return await client.sendRequest("workspace/executeCommand", { command, arguments: args });
  } catch (e) {
    void vscode.window.showErrorMessage(`Omega: ${command} failed: ${(e as Error).message}`);
    return undefined;
  }
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  output = vscode.window.createOutputChannel("Omega");
  serverOutput = vscode.window.createOutputChannel("Omega Language Server");
  statusBar = new StatusBar();
  context.subscriptions.push(output, serverOutput, statusBar);

  const register = (id: string, fn: () => unknown) =>
    context.subscriptions.push(vscode.commands.registerCommand(id, fn));

  register("omega.run", async () => {
    const editor = activeOmegaEditor();
    if (!editor) return;
    if (editor.document.isDirty) {
      await editor.document.save();
      const onSave = vscode.workspace.getConfiguration("omega").get<boolean>("eval.onSave", true);
      if (onSave && vscode.workspace.isTrusted) {
        return; // the save has started the run
      }
    }
    return serverCommand("omega.runFile", [editor.document.uri.toString()]);
  });
  register("omega.runFormAtCursor", async () => {
    const editor = activeOmegaEditor();
    if (!editor) return;
    const converter = client?.code2ProtocolConverter;
    const position = converter
      ? converter.asPosition(editor.selection.active)
      : { line: editor.selection.active.line, character: editor.selection.active.character };
    return serverCommand("omega.runForm", [editor.document.uri.toString(), position]);
  });
  register("omega.cancelRun", async () => {
    const uri = vscode.window.activeTextEditor?.document.uri.toString() ?? statusBar.runningUri();
    if (!uri) return;
    return serverCommand("omega.cancel", [uri]);
  });
  register("omega.clearLlmCache", async () => {
    const result = (await serverCommand("omega.clearCache", [])) as { cleared?: boolean } | undefined;
    if (result?.cleared) {
      void vscode.window.showInformationMessage("Omega: the LLM answer cache is cleared.");
    }
  });
  register("omega.restartServer", async () => {
    await stopClient();
    await startClient(context);
  });
  register("omega.showOutput", () => output.show(true));
  context.subscriptions.push(
    vscode.commands.registerCommand(COPY_ANSWER, (uri: unknown, id: unknown) => copyAnswer(serverCommand, uri, id)),
  );
  register("omega.storeApiKey", async () => {
    const name = await vscode.window.showQuickPick(keyVariableNames(), {
      title: "Omega: which environment variable should the key fill in for the server?",
    });
    if (!name) return;
    const key = await vscode.window.showInputBox({ title: `Omega: ${name}`, password: true, ignoreFocusOut: true });
    if (!key) return;
    await context.secrets.store(SECRET_PREFIX + name, key);
    void vscode.window.showInformationMessage(
      `Omega: stored in VS Code's secret storage; the server gets it as ${name} (restarting it now).`,
    );
    await stopClient();
    await startClient(context);
  });

  // Restricted Mode → trusted: a granted trust reaches the server through its settings.
  context.subscriptions.push(
    vscode.workspace.onDidGrantWorkspaceTrust(() => {
      void client?.sendNotification("workspace/didChangeConfiguration", { settings: { omega: currentSettings() } });
    }),
    vscode.workspace.onDidChangeConfiguration(async (e) => {
      // The binary and its environment are fixed when the process starts.
      if (e.affectsConfiguration("omega.server.path") || e.affectsConfiguration("omega.server.logLevel")) {
        await stopClient();
        await startClient(context);
      } else if (e.affectsConfiguration("omega")) {
        // Sent by hand, not through the client's synchronization, so trust is always VS Code's.
        void client?.sendNotification("workspace/didChangeConfiguration", { settings: { omega: currentSettings() } });
      }
    }),
    vscode.window.onDidChangeActiveTextEditor((editor) => statusBar.show(editor)),
  );

  await startClient(context);
  statusBar.show(vscode.window.activeTextEditor);
}

export async function deactivate(): Promise<void> {
  await stopClient();
}
