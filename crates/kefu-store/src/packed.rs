//! Stored documents (conversation records and inspection results) are JSON
//! compressed with LZ4: it roughly halves them and makes SQLite imports much
//! faster for it. Every reader of those columns goes through here.

/// Compresses a document for storage.
pub(crate) fn pack(json: &[u8]) -> Vec<u8> {
    lz4_flex::compress_prepend_size(json)
}

/// Decompresses a stored document.
pub(crate) fn unpack(bytes: &[u8]) -> Result<Vec<u8>, String> {
    lz4_flex::decompress_size_prepended(bytes).map_err(|e| e.to_string())
}
