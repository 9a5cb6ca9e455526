//! SLA clocks (to be written).
