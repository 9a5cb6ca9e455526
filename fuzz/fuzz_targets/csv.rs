#![no_main]
//! The CSV/TSV importer on arbitrary bytes: every encoding it detects
//! (UTF-8 with or without BOM, GB18030/GBK, UTF-16 LE/BE with or without
//! BOM), with the delimiter detected, `,` or tab.

use kefu_formats::import::{CsvOptions, ImportOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let delimiter = match data.len() % 3 {
        0 => None,
        1 => Some(b','),
        _ => Some(b'\t'),
    };
    let opts = ImportOptions {
        csv: CsvOptions {
            delimiter,
            ..CsvOptions::default()
        },
        ..ImportOptions::default()
    };
    kefu_fuzz::import(kefu_formats::import::csv::read, "fuzz.csv", data, &opts);
});
