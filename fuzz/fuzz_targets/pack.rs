#![no_main]
//! The rule-pack loader: TOML text → validated `RulePack` →
//! `Inspector::new` → inspection of a small conversation (the input after
//! its first 0xFF byte, or a built-in one).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kefu_fuzz::pack(data);
});
