//! The complaint lifecycle (to be written).
