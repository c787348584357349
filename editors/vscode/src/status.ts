// The status bar item: the run state of the active .omega file from omega/evalStatus.
// While that file runs, clicking it cancels the run; otherwise it opens the Omega output.

import * as vscode from "vscode";

export type RunStatus = {
  uri: string;
  version: number | null;
  state: "running" | "done" | "cancelled" | "failed";
  llmCalls: number;
  elapsedMs: number;
};

const ICON: Record<RunStatus["state"], string> = {
  running: "$(sync~spin)",
  done: "$(check)",
  cancelled: "$(circle-slash)",
  failed: "$(error)",
};

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem("omega.runStatus", vscode.StatusBarAlignment.Left, 10);
  private readonly byUri = new Map<string, RunStatus>();

  constructor() {
    this.item.name = "Omega Run";
  }

  update(status: RunStatus): void {
    this.byUri.set(status.uri, status);
    this.show(vscode.window.activeTextEditor);
  }

  /** A file that is running, for Cancel when no .omega editor is active. */
  runningUri(): string | undefined {
    for (const [uri, s] of this.byUri) {
      if (s.state === "running") return uri;
    }
    return undefined;
  }

  serverStopped(): void {
    this.byUri.clear();
    this.show(vscode.window.activeTextEditor);
  }

  show(editor: vscode.TextEditor | undefined): void {
    if (!editor || editor.document.languageId !== "omega") {
      this.item.hide();
      return;
    }
    const s = this.byUri.get(editor.document.uri.toString());
    if (!s) {
      this.item.text = "Ω";
      this.item.tooltip = vscode.workspace.isTrusted
        ? "OmegaLLM: not run yet. Save the file or run Omega: Run File."
        : "OmegaLLM: Restricted Mode — analysis only; trust the folder to run programs.";
      this.item.command = "omega.showOutput";
      this.item.show();
      return;
    }
    const calls = s.llmCalls === 1 ? "1 LLM call" : `${s.llmCalls} LLM calls`;
    const secs = (s.elapsedMs / 1000).toFixed(1);
    this.item.text = `${ICON[s.state]} Ω ${s.state}` + (s.state === "running" ? "" : ` · ${calls} · ${secs}s`);
    this.item.tooltip =
      s.state === "running" ? "OmegaLLM: running — click to cancel" : `OmegaLLM: ${s.state} (${calls}, ${secs} s) — click for the output`;
    this.item.command = s.state === "running" ? "omega.cancelRun" : "omega.showOutput";
    this.item.show();
  }

  dispose(): void {
    this.item.dispose();
  }
}
