//! Readers for the real recordings in `../shared/data`. Filled in by the dataset work.
