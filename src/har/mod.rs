//! HAR 1.2 output.
