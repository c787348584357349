; Foldable regions.

[
  (list)
  (vector)
  (block_comment)
  (datum_comment)
] @fold
