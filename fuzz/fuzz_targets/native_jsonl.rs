#![no_main]
//! The native reader (JSON Lines, or a JSON array when the input starts
//! with `[`) and record parser, with a small per-record limit now and then.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let max = if data.len() % 4 == 0 { 64 } else { usize::MAX };
    kefu_fuzz::native(data, max);
});
