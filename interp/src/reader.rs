//! The reader: lowers the tree-sitter tree to the syntax tree. (Being written.)
