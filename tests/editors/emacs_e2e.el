;;; emacs_e2e.el --- the README's eglot snippet against the real omega-lsp  -*- lexical-binding: t; -*-

;; Driven by tests/editors/emacs.sh: `emacs --batch -q -l emacs_e2e.el' (packages
;; activated and site files loaded as in a user's Emacs, no init file). Loads the Emacs
;; snippet of editors/README.md ($OMEGA_TEST_SNIPPET) as a user's init file would, opens the
;; workspace's ledger.omega in a trusted, an untrusted and a hostile (its .dir-locals.el claims
;; trust) project, and writes one line per assertion to $OMEGA_TEST_RESULTS, then "done".
;;
;; Batch Emacs has no command loop: where a user's Emacs would run `post-command-hook' after
;; each command (eglot-ensure connects there, Flymake starts there), `omega-test-wait' runs it.

(require 'cl-lib)
(require 'subr-x)

(defvar omega-test-dir (getenv "OMEGA_TEST_DIR"))
(defvar omega-test-llm-url (getenv "OPENAI_BASE_URL"))
(defvar omega-test-lines nil "Result lines, newest first.")
(defvar omega-test-started (float-time))
(defvar omega-test-answer "Reply: What is 2+2?")

(defun omega-test-check (name ok &optional detail)
  "Record assertion NAME as held when OK, else as failed with DETAIL."
  (message "%.1f s: %s" (- (float-time) omega-test-started) name)
  (push (if ok
            (concat "ok   " name)
          (concat "FAIL " name (if detail
                                   (replace-regexp-in-string "\n" " | " (format ": %s" detail))
                                 "")))
        omega-test-lines)
  ok)

(defun omega-test-wait (seconds predicate)
  "Poll PREDICATE, reading server output, until non-nil or SECONDS passed."
  (let ((deadline (+ (float-time) seconds))
        found)
    (while (and (not (setq found (funcall predicate)))
                (< (float-time) deadline))
      (run-hooks 'post-command-hook)
      (accept-process-output nil 0.05))
    found))

(defun omega-test-requests ()
  "How many chat completions the loopback LLM server answered."
  (let ((base (replace-regexp-in-string "/v1\\'" "" omega-test-llm-url)))
    (with-temp-buffer
      (call-process "python3" nil t nil "-c"
                    "import json,sys,urllib.request; print(json.load(urllib.request.urlopen(sys.argv[1] + '/requests', timeout=5))['requests'])"
                    base)
      (string-to-number (buffer-string)))))

(defvar omega-test-log nil "The server's window/logMessage texts, newest first.")

(defvar omega-test-states nil "The states of omega/evalStatus notifications, newest first.")

(defun omega-test-logged (text)
  "Non-nil once the server logged a message with TEXT (forgotten then)."
  (let ((hit (cl-find-if (lambda (m) (string-search text m)) omega-test-log)))
    (when hit (setq omega-test-log (delete hit omega-test-log)))
    hit))

(defun omega-test-open (file)
  "Visit FILE as a user would and wait until eglot manages it; the buffer."
  (let ((buf (find-file-noselect file)))
    (switch-to-buffer buf)
    (omega-test-wait 15 (lambda () (with-current-buffer buf (eglot-managed-p))))
    buf))

(defun omega-test-deadlock (buf)
  "The Flymake diagnostic of BUF for omega::deadlock-order, if any."
  (with-current-buffer buf
    (cl-find-if (lambda (d) (string-match-p "\\[omega::deadlock-order\\]" (flymake-diagnostic-text d)))
                (flymake-diagnostics))))

(defun omega-test-wait-deadlock (buf)
  "Wait until BUF shows the deadlock warning; the diagnostic, or nil."
  (omega-test-wait 15 (lambda () (omega-test-deadlock buf))))

(defun omega-test-hover (buf line word)
  "The hover text eglot gives ElDoc for the first WORD on LINE of BUF."
  (with-current-buffer buf
    (goto-char (point-min))
    (forward-line (1- line))
    (search-forward word (line-end-position))
    (backward-char 2)
    (let (doc)
      (eglot-hover-eldoc-function (lambda (info &rest _) (setq doc (or info ""))))
      (omega-test-wait 10 (lambda () doc))
      doc)))

(defun omega-test-inlay-labels (buf)
  "The labels of omega-lsp's textDocument/inlayHint answer for all of BUF."
  (with-current-buffer buf
    (let ((hints (jsonrpc-request
                  (eglot-current-server) :textDocument/inlayHint
                  (list :textDocument (list :uri (eglot--path-to-uri buffer-file-name))
                        :range (list :start (list :line 0 :character 0)
                                     :end (list :line (count-lines (point-min) (point-max))
                                                :character 0))))))
      (mapcar (lambda (h)
                (let ((label (plist-get h :label)))
                  (if (stringp label) label
                    (mapconcat (lambda (part) (plist-get part :value)) label ""))))
              hints))))

(defun omega-test-edit-and-save (buf)
  "Type a newline at the end of BUF and save it, as a user would."
  (with-current-buffer buf
    (goto-char (point-max))
    (insert "\n")
    (save-buffer)))

(defun omega-test-untrusted (name dir before)
  "Open DIR/ledger.omega (project NAME): saving, `omega-run-file' run nothing."
  (let ((buf (omega-test-open (expand-file-name (concat dir "/ledger.omega") omega-test-dir))))
    (omega-test-check (format "%s: analysis still reports the deadlock" name)
                      (omega-test-wait-deadlock buf))
    (omega-test-edit-and-save buf)
    (let ((result (with-current-buffer buf (omega-run-file))))
      (omega-test-check (format "%s: omega-run-file is refused (started false)" name)
                        (eq (plist-get result :started) :json-false)
                        (format "%S" result)))
    (omega-test-check (format "%s: the server says it does not run it on save" name)
                      (omega-test-wait 10 (lambda () (omega-test-logged (concat dir "/ledger.omega on save: the workspace is not trusted"))))
                      (format "%S" omega-test-log))
    (let ((after (omega-test-requests)))
      (omega-test-check (format "%s: no request reached the LLM server" name)
                        (= after before)
                        (format "requests %d -> %d" before after)))))

(defun omega-test-main ()
  "Every step, in order; an error ends the run without its \"done\" line."
  (load (getenv "OMEGA_TEST_SNIPPET") nil t)
  (cl-defmethod eglot-handle-notification :before
    (_server (_method (eql window/logMessage)) &key message &allow-other-keys)
    (push message omega-test-log))
  (cl-defmethod eglot-handle-notification :before
    (_server (_method (eql omega/evalStatus)) &key state &allow-other-keys)
    (push state omega-test-states))
  (omega-test-check "the README's Emacs snippet loads" (fboundp 'omega-mode))
  (setq omega-trusted-directories (list (expand-file-name "trusted/" omega-test-dir)))

  (let* ((buf (omega-test-open (expand-file-name "trusted/ledger.omega" omega-test-dir)))
         (server (with-current-buffer buf (eglot-current-server))))
    (omega-test-check "omega-mode for .omega files"
                      (eq (buffer-local-value 'major-mode buf) 'omega-mode)
                      (buffer-local-value 'major-mode buf))
    (unless (omega-test-check "eglot-ensure started omega-lsp and it initialized"
                              (and server (jsonrpc-running-p server)
                                   (equal (plist-get (eglot--server-info server) :name) "omega-lsp"))
                              (and server (format "%S" (eglot--server-info server))))
      (error "no server: nothing more to test"))

    ;; Analysis: the deadlock warning in Flymake, with its message.
    (omega-test-wait-deadlock buf)
    (let ((d (omega-test-deadlock buf)))
      (omega-test-check "Flymake: warning [omega::deadlock-order] at line 13 saying possible deadlock"
                        (and d (eq (flymake-diagnostic-type d) 'eglot-warning)
                             (= (with-current-buffer buf (line-number-at-pos (flymake-diagnostic-beg d))) 13)
                             (string-match-p "possible deadlock" (flymake-diagnostic-text d)))
                        (with-current-buffer buf
                          (mapcar #'flymake-diagnostic-text (flymake-diagnostics))))
      (omega-test-check "Flymake: the warning names the opposite order's place (line 9)"
                        (and d (string-search "opposite order (line 9)" (flymake-diagnostic-text d)))
                        (and d (flymake-diagnostic-text d))))

    ;; Hover (ElDoc) on a built-in: its signature and doc.
    (let ((doc (omega-test-hover buf 3 "make-serializer")))
      (omega-test-check "ElDoc hover on make-serializer shows its signature and doc"
                        (and doc (string-match-p "(make-serializer \\[name\\])" doc)
                             (string-match-p "A new serializer" doc))
                        doc))

    ;; Saving in the trusted project runs the file: the answer comes from the LLM server.
    (let ((before (omega-test-requests))
          labels)
      (omega-test-edit-and-save buf)
      (omega-test-wait 15 (lambda ()
                            (setq labels (omega-test-inlay-labels buf))
                            (cl-some (lambda (l) (string-search omega-test-answer l)) labels)))
      (omega-test-check "after a save: textDocument/inlayHint gives the answer"
                        (cl-some (lambda (l) (string-search omega-test-answer l)) labels)
                        (format "%S" labels))
      (let ((after (omega-test-requests)))
        (omega-test-check "the answer came from the LLM server (1 request)"
                          (= after (1+ before))
                          (format "requests %d -> %d" before after))))
    (let ((doc (omega-test-hover buf 16 "infer.op")))
      (omega-test-check "ElDoc hover on the infer.op call shows its answer"
                        (and doc (string-search omega-test-answer doc))
                        doc))
    (omega-test-check "the run on save ends (omega/evalStatus done)"
                      (omega-test-wait 15 (lambda () (member "done" omega-test-states)))
                      (format "%S" omega-test-states))
    (setq omega-test-states nil)
    (let ((result (with-current-buffer buf (omega-run-file))))
      (omega-test-check "omega-run-file starts a run in the trusted project"
                        (eq (plist-get result :started) t)
                        (format "%S" result))
      (omega-test-check "that run ends (omega/evalStatus running, then done)"
                        (omega-test-wait 15 (lambda () (member "done" (member "running" (reverse omega-test-states)))))
                        (format "%S" omega-test-states))))

  (let ((message (with-temp-buffer
                   (condition-case e (progn (omega-run-file) nil)
                     (user-error (cadr e))))))
    (omega-test-check "omega-run-file where no server runs: an error saying how to start one"
                      (and message (string-search "M-x eglot" message))
                      message))

  ;; Outside omega-trusted-directories: analysis, but nothing runs.
  (let ((before (omega-test-requests)))
    (omega-test-untrusted "untrusted project" "untrusted" before)
    (omega-test-untrusted "project whose .dir-locals.el sets eval.trusted" "hostile" before))
  (push "done: every step ran" omega-test-lines))

(condition-case err
    (omega-test-main)
  (error (omega-test-check "the test script ran to the end" nil (error-message-string err))))
(with-temp-file (getenv "OMEGA_TEST_RESULTS")
  (insert (mapconcat #'identity (reverse omega-test-lines) "\n") "\n"))
(when (boundp 'eglot--servers-by-project)
  (dolist (servers (hash-table-values eglot--servers-by-project))
    (dolist (s servers) (ignore-errors (eglot-shutdown s)))))
(kill-emacs 0)
