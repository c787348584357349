//! The `omega` command line as users and scripts see it.
