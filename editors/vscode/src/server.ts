// Finding the omega-lsp binary: the user's setting, then the one shipped inside the
// extension, then PATH. The first that exists wins; a setting that points nowhere is an
// error of its own (silently falling back would hide the user's mistake).

import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as vscode from "vscode";

const EXE = process.platform === "win32" ? "omega-lsp.exe" : "omega-lsp";

export type Found = { path: string; from: "setting" | "bundled" | "PATH" };

export class ServerNotFound extends Error {}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function expand(setting: string): string {
  let p = setting.trim();
  if (p === "~" || p.startsWith("~/")) {
    p = path.join(os.homedir(), p.slice(1));
  }
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  p = p.replace(/\$\{workspaceFolder\}/g, folder ?? "");
  if (!path.isAbsolute(p) && folder) {
    p = path.join(folder, p);
  }
  return p;
}

function onPath(): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    if (dir && isExecutable(path.join(dir, EXE))) {
      return path.join(dir, EXE);
    }
  }
  return undefined;
}

export function findServer(context: vscode.ExtensionContext): Found {
  const setting = vscode.workspace.getConfiguration("omega").get<string>("server.path", "");
  if (setting.trim() !== "") {
    const p = expand(setting);
    if (isExecutable(p)) {
      return { path: p, from: "setting" };
    }
    throw new ServerNotFound(
      `Omega: omega.server.path is "${setting}", but ${p} is not an executable file. ` +
        "Fix the setting, or clear it to use the bundled server or omega-lsp on PATH.",
    );
  }
  const bundled = context.asAbsolutePath(path.join("server", EXE));
  if (isExecutable(bundled)) {
    return { path: bundled, from: "bundled" };
  }
  const found = onPath();
  if (found) {
    return { path: found, from: "PATH" };
  }
  throw new ServerNotFound(
    "Omega: cannot find the omega-lsp language server. Build it with " +
      "`cargo build --release -p omega-lsp` and set omega.server.path to target/release/omega-lsp, " +
      "or put omega-lsp on PATH, then run Omega: Restart Server.",
  );
}
