#![no_main]
//! The chat-log importer on arbitrary bytes, with and without agent names.

use kefu_formats::import::ImportOptions;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let agent_names = if data.len() % 2 == 0 {
        Vec::new()
    } else {
        vec!["店小二".to_string(), "客服A".to_string()]
    };
    let opts = ImportOptions {
        agent_names,
        ..ImportOptions::default()
    };
    kefu_fuzz::import(kefu_formats::import::chatlog::read, "fuzz.txt", data, &opts);
});
