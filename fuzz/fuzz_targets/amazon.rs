#![no_main]
//! The amazon importer on arbitrary bytes, with each agent-channel option.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let opts = kefu_fuzz::vendor_options(data);
    kefu_fuzz::import(kefu_formats::import::amazon::read, "fuzz.json", data, &opts);
});
