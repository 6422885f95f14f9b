//! The canonical trace CSV (reader and writer). Filled in by the dataset work.
