#![no_main]
//! The native reader forced into JSON-array mode: the input is the array's
//! body (`[` is prepended), so the element cutter sees every mutation.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut array = Vec::with_capacity(data.len() + 1);
    array.push(b'[');
    array.extend_from_slice(data);
    let max = if data.len() % 4 == 0 { 64 } else { usize::MAX };
    kefu_fuzz::native(&array, max);
});
