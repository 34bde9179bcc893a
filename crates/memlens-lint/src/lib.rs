//! Finds leak-prone patterns in Python source.
#![forbid(unsafe_code)]
