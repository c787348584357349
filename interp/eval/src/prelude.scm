;;; The built-in procedures that take procedures, written in OmegaLLM itself.
;;;
;;; Loaded at session start, after the primitives. Every call of user code made from here
;;; goes through the machine, so it can be suspended, cancelled and budgeted, and can perform
;;; effects. Rules for this file:
;;; - only core special forms and primitives; loops are tail calls with an accumulator, so a
;;;   list of a million elements takes constant stack;
;;; - arguments are checked with `%check`, so errors read like a primitive's
;;;   (`map: expected procedure, got 5`); optional arguments are a rest list whose length
;;;   `%check-arity` bounds, with the same message as the machine's arity check;
;;; - helpers are internal defines or `%` primitives: every top-level definition here is a
;;;   built-in of docs/reference.md (a unit test checks this file against the signature table).

;;; ------------------------------------------------------------------------------------
;;; Mapping and folding

(define (map f list1 . lists)
  (%check 'map 'procedure f)
  (if (null? lists)
      (let loop ((l (%check 'map 'list list1)) (acc '()))
        (if (pair? l)
            (loop (cdr l) (cons (f (car l)) acc))
            (reverse acc)))
      (let loop ((ls (%check 'map 'lists (cons list1 lists))) (acc '()))
        (let ((heads (%heads ls)))
          (if heads
              (loop (%tails ls) (cons (apply f heads) acc))
              (reverse acc))))))

(define (for-each f list1 . lists)
  (%check 'for-each 'procedure f)
  (if (null? lists)
      (let loop ((l (%check 'for-each 'list list1)))
        (when (pair? l)
          (f (car l))
          (loop (cdr l))))
      (let loop ((ls (%check 'for-each 'lists (cons list1 lists))))
        (let ((heads (%heads ls)))
          (when heads
            (apply f heads)
            (loop (%tails ls)))))))

(define (filter pred lst)
  (%check 'filter 'procedure pred)
  (let loop ((l (%check 'filter 'list lst)) (acc '()))
    (cond ((null? l) (reverse acc))
          ((pred (car l)) (loop (cdr l) (cons (car l) acc)))
          (else (loop (cdr l) acc)))))

(define (remove pred lst)
  (%check 'remove 'procedure pred)
  (let loop ((l (%check 'remove 'list lst)) (acc '()))
    (cond ((null? l) (reverse acc))
          ((pred (car l)) (loop (cdr l) acc))
          (else (loop (cdr l) (cons (car l) acc))))))

;; Without multiple values, the two parts come back as a two-element list: (in out).
(define (partition pred lst)
  (%check 'partition 'procedure pred)
  (let loop ((l (%check 'partition 'list lst)) (in '()) (out '()))
    (cond ((null? l) (list (reverse in) (reverse out)))
          ((pred (car l)) (loop (cdr l) (cons (car l) in) out))
          (else (loop (cdr l) in (cons (car l) out))))))

(define (filter-map f list1 . lists)
  (%check 'filter-map 'procedure f)
  (let loop ((ls (%check 'filter-map 'lists (cons list1 lists))) (acc '()))
    (let ((heads (%heads ls)))
      (if heads
          (let ((v (apply f heads)))
            (loop (%tails ls) (if v (cons v acc) acc)))
          (reverse acc)))))

(define (append-map f list1 . lists)
  (%check 'append-map 'procedure f)
  (let loop ((ls (%check 'append-map 'lists (cons list1 lists))) (acc '()))
    (let ((heads (%heads ls)))
      (if heads
          (loop (%tails ls) (%append-reverse (%check 'append-map 'list (apply f heads)) acc))
          (reverse acc)))))

;; SRFI-1: (f elem… acc), left to right.
(define (fold f init list1 . lists)
  (%check 'fold 'procedure f)
  (if (null? lists)
      (let loop ((l (%check 'fold 'list list1)) (acc init))
        (if (pair? l)
            (loop (cdr l) (f (car l) acc))
            acc))
      (let loop ((ls (%check 'fold 'lists (cons list1 lists))) (acc init))
        (let ((heads (%heads ls)))
          (if heads
              (loop (%tails ls) (apply f (%append-reverse (reverse heads) (list acc))))
              acc)))))

;; R6RS: (f acc elem…), left to right.
(define (fold-left f init list1 . lists)
  (%check 'fold-left 'procedure f)
  (if (null? lists)
      (let loop ((l (%check 'fold-left 'list list1)) (acc init))
        (if (pair? l)
            (loop (cdr l) (f acc (car l)))
            acc))
      (let loop ((ls (%check 'fold-left 'lists (cons list1 lists))) (acc init))
        (let ((heads (%heads ls)))
          (if heads
              (loop (%tails ls) (apply f acc heads))
              acc)))))

;; (f elem… acc), right to left: the rows are collected first, so nothing recurses.
(define (fold-right f init list1 . lists)
  (%check 'fold-right 'procedure f)
  (if (null? lists)
      (let loop ((l (reverse (%check 'fold-right 'list list1))) (acc init))
        (if (pair? l)
            (loop (cdr l) (f (car l) acc))
            acc))
      (let collect ((ls (%check 'fold-right 'lists (cons list1 lists))) (rows '()))
        (let ((heads (%heads ls)))
          (if heads
              (collect (%tails ls) (cons heads rows))
              (let loop ((rows rows) (acc init))
                (if (pair? rows)
                    (loop (cdr rows) (apply f (%append-reverse (reverse (car rows)) (list acc))))
                    acc)))))))

(define (foldr f init lst)
  (%check 'foldr 'procedure f)
  (let loop ((l (reverse (%check 'foldr 'list lst))) (acc init))
    (if (pair? l)
        (loop (cdr l) (f (car l) acc))
        acc)))

;; SRFI-1: (reduce + 0 '(1 2 3)) is (+ 3 (+ 2 1)).
(define (reduce f ridentity lst)
  (%check 'reduce 'procedure f)
  (if (null? (%check 'reduce 'list lst))
      ridentity
      (let loop ((l (cdr lst)) (acc (car lst)))
        (if (pair? l)
            (loop (cdr l) (f (car l) acc))
            acc))))

;;; ------------------------------------------------------------------------------------
;;; Searching

(define (member x lst . compare)
  (%check-arity 'member 2 3 compare)
  (if (null? compare)
      (%member x lst)
      (let ((same? (%check 'member 'procedure (car compare))))
        (let loop ((l (%check 'member 'list lst)))
          (cond ((null? l) #f)
                ((same? x (car l)) l)
                (else (loop (cdr l))))))))

(define (assoc key alist . compare)
  (%check-arity 'assoc 2 3 compare)
  (if (null? compare)
      (%assoc key alist)
      (let ((same? (%check 'assoc 'procedure (car compare))))
        (let loop ((l (%check 'assoc 'list alist)))
          (cond ((null? l) #f)
                ((not (pair? (car l))) (%error 'assoc "expected association list, got" alist))
                ((same? key (car (car l))) (car l))
                (else (loop (cdr l))))))))

(define (any pred list1 . lists)
  (%check 'any 'procedure pred)
  (if (null? lists)
      (let loop ((l (%check 'any 'list list1)))
        (and (pair? l)
             (or (pred (car l)) (loop (cdr l)))))
      (let loop ((ls (%check 'any 'lists (cons list1 lists))))
        (let ((heads (%heads ls)))
          (and heads
               (or (apply pred heads) (loop (%tails ls))))))))

(define (every pred list1 . lists)
  (%check 'every 'procedure pred)
  (if (null? lists)
      (let loop ((l (%check 'every 'list list1)) (last #t))
        (if (pair? l)
            (let ((v (pred (car l))))
              (and v (loop (cdr l) v)))
            last))
      (let loop ((ls (%check 'every 'lists (cons list1 lists))) (last #t))
        (let ((heads (%heads ls)))
          (if heads
              (let ((v (apply pred heads)))
                (and v (loop (%tails ls) v)))
              last)))))

(define (andmap f list1 . lists)
  (%check 'andmap 'procedure f)
  (%check 'andmap 'lists (cons list1 lists))
  (apply every f list1 lists))

(define (ormap f list1 . lists)
  (%check 'ormap 'procedure f)
  (%check 'ormap 'lists (cons list1 lists))
  (apply any f list1 lists))

(define (list-index pred lst)
  (%check 'list-index 'procedure pred)
  (let loop ((l (%check 'list-index 'list lst)) (i 0))
    (cond ((null? l) #f)
          ((pred (car l)) i)
          (else (loop (cdr l) (+ i 1))))))

;;; ------------------------------------------------------------------------------------
;;; Sorting: a stable bottom-up merge sort of natural runs. `(sort list less?)` and
;;; `(sort less? list)` both work; a vector gives a new vector.

(define (sort a b)
  (define swapped (procedure? a))
  (define less? (%check 'sort 'procedure (if swapped a b)))
  (define seq (if swapped b a))
  ;; Takes from y only when its head is strictly less, so equal elements keep their order.
  (define (merge x y acc)
    (cond ((null? x) (%append-reverse acc y))
          ((null? y) (%append-reverse acc x))
          ((less? (car y) (car x)) (merge x (cdr y) (cons (car y) acc)))
          (else (merge (cdr x) y (cons (car x) acc)))))
  (define (merge-pairs runs acc)
    (cond ((null? runs) (reverse acc))
          ((null? (cdr runs)) (reverse (cons (car runs) acc)))
          (else (merge-pairs (cddr runs) (cons (merge (car runs) (cadr runs) '()) acc)))))
  (define (merge-all runs)
    (if (null? (cdr runs))
        (car runs)
        (merge-all (merge-pairs runs '()))))
  ;; The maximal non-descending runs of l, in order: sorted input is a single run.
  (define (runs l)
    (let loop ((l (cdr l)) (run (list (car l))) (acc '()))
      (cond ((null? l) (reverse (cons (reverse run) acc)))
            ((less? (car l) (car run)) (loop (cdr l) (list (car l)) (cons (reverse run) acc)))
            (else (loop (cdr l) (cons (car l) run) acc)))))
  (define (sort-list l)
    (if (null? l)
        '()
        (merge-all (runs l))))
  ;; A primitive predicate cannot call back into the program: sort without leaving Rust.
  (define (sort-any l)
    (if (%primitive? less?) (%sort-by-primitive l less?) (sort-list l)))
  (if (vector? seq)
      (list->vector (sort-any (vector->list seq)))
      (sort-any (%check 'sort 'list seq))))

;;; ------------------------------------------------------------------------------------
;;; Hash tables

(define (hash-table-ref table key . fail)
  (%check-arity 'hash-table-ref 2 3 fail)
  (cond ((null? fail) (%hash-table-ref 'hash-table-ref table key))
        ((%hash-table-contains? 'hash-table-ref table key) (%hash-table-ref 'hash-table-ref table key))
        (else ((%check 'hash-table-ref 'procedure (car fail))))))

;; The third argument is a default value or a thunk that computes one.
(define (hash-ref table key . default)
  (%check-arity 'hash-ref 2 3 default)
  (cond ((null? default) (%hash-table-ref 'hash-ref table key))
        ((%hash-table-contains? 'hash-ref table key) (%hash-table-ref 'hash-ref table key))
        ((procedure? (car default)) ((car default)))
        (else (car default))))

(define (hash-table-update! table key proc . fail)
  (%check-arity 'hash-table-update! 3 4 fail)
  (%check 'hash-table-update! 'procedure proc)
  (hash-table-set! table key
                   (proc (if (or (null? fail) (%hash-table-contains? 'hash-table-update! table key))
                             (%hash-table-ref 'hash-table-update! table key)
                             ((%check 'hash-table-update! 'procedure (car fail)))))))

(define (hash-table-update!/default table key proc default)
  (%check 'hash-table-update!/default 'hash-table table)
  (%check 'hash-table-update!/default 'procedure proc)
  (hash-table-set! table key (proc (hash-table-ref/default table key default))))

;; Walks a snapshot of the entries, in insertion order.
(define (hash-table-walk table proc)
  (%check 'hash-table-walk 'hash-table table)
  (%check 'hash-table-walk 'procedure proc)
  (let loop ((entries (hash-table->alist table)))
    (when (pair? entries)
      (proc (car (car entries)) (cdr (car entries)))
      (loop (cdr entries)))))

;;; ------------------------------------------------------------------------------------
;;; Vectors

(define (vector-map f vec1 . vecs)
  (%check 'vector-map 'procedure f)
  (%check 'vector-map 'vector vec1)
  (if (null? vecs)
      (list->vector (map f (vector->list vec1)))
      (list->vector
       (apply map f (vector->list vec1)
              (map (lambda (v) (vector->list (%check 'vector-map 'vector v))) vecs)))))

(define (vector-for-each f vec1 . vecs)
  (%check 'vector-for-each 'procedure f)
  (%check 'vector-for-each 'vector vec1)
  (if (null? vecs)
      (for-each f (vector->list vec1))
      (apply for-each f (vector->list vec1)
             (map (lambda (v) (vector->list (%check 'vector-for-each 'vector v))) vecs))))

;;; ------------------------------------------------------------------------------------
;;; Streams: `()` or `(a . promise)`. Nothing here forces more of a stream than asked for.

(define (stream-cdr s)
  (force (cdr (%check 'stream-cdr 'stream-pair s))))

(define (stream-map f s . streams)
  (%check 'stream-map 'procedure f)
  (if (null? streams)
      (let loop ((s (%check 'stream-map 'stream s)))
        (if (null? s)
            '()
            (cons-stream (f (stream-car s)) (loop (stream-cdr s)))))
      (let loop ((ss (%check 'stream-map 'streams (cons s streams))))
        (let ((heads (%heads ss)))
          (if heads
              (cons-stream (apply f heads) (loop (map stream-cdr ss)))
              '())))))

(define (stream-filter pred s)
  (%check 'stream-filter 'procedure pred)
  (let loop ((s (%check 'stream-filter 'stream s)))
    (cond ((null? s) '())
          ((pred (stream-car s)) (cons-stream (stream-car s) (loop (stream-cdr s))))
          (else (loop (stream-cdr s))))))

(define (stream-for-each f s)
  (%check 'stream-for-each 'procedure f)
  (let loop ((s (%check 'stream-for-each 'stream s)))
    (when (pair? s)
      (f (stream-car s))
      (loop (stream-cdr s)))))

;; At most n elements (all when n is omitted).
(define (stream->list s . n)
  (%check-arity 'stream->list 1 2 n)
  (let ((limit (if (null? n) #f (%check 'stream->list 'count (car n)))))
    (let loop ((s (%check 'stream->list 'stream s)) (k 0) (acc '()))
      (cond ((or (null? s) (and limit (= k limit))) (reverse acc))
            ((and limit (= (+ k 1) limit)) (reverse (cons (stream-car s) acc)))
            (else (loop (stream-cdr s) (+ k 1) (cons (stream-car s) acc)))))))

;; A stream of the first n elements.
(define (stream-take s n)
  (%check 'stream-take 'count n)
  (let loop ((s (%check 'stream-take 'stream s)) (n n))
    (cond ((or (= n 0) (null? s)) '())
          ((= n 1) (cons-stream (stream-car s) '()))
          (else (cons-stream (stream-car s) (loop (stream-cdr s) (- n 1)))))))

(define (stream-ref s n)
  (%check 'stream-ref 'count n)
  (let loop ((t (%check 'stream-ref 'stream s)) (k n))
    (cond ((null? t) (%error 'stream-ref "index" n "out of range"))
          ((= k 0) (stream-car t))
          (else (loop (stream-cdr t) (- k 1))))))

(define (stream-append . streams)
  (let outer ((ss (%check 'stream-append 'streams streams)))
    (cond ((null? ss) '())
          ((null? (car ss)) (outer (cdr ss)))
          (else
           (let inner ((s (car ss)))
             (if (null? s)
                 (outer (cdr ss))
                 (cons-stream (stream-car s) (inner (stream-cdr s)))))))))

(define (stream-interleave s1 s2)
  (%check 'stream-interleave 'stream s1)
  (%check 'stream-interleave 'stream s2)
  (let loop ((a s1) (b s2))
    (if (null? a)
        b
        (cons-stream (stream-car a) (loop b (stream-cdr a))))))

;;; ------------------------------------------------------------------------------------
;;; Nondeterminism

(define (require p)
  (if (not p) (amb)))
