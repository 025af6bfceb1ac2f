//! The small binary samples the suite expects: a 1x1 PNG and an empty WAV.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// A 1x1 PNG image, base64-encoded.
const PNG_BASE64: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8/5+hHgAHggJ/PchI7wAAAABJRU5ErkJggg==";

/// A WAV file with no samples (44.1 kHz, mono, 16-bit), base64-encoded.
const WAV_BASE64: &str = "UklGRiQAAABXQVZFZm10IBAAAAABAAEARKwAAIhYAQACABAAZGF0YQAAAAA=";

/// The PNG's MIME type.
pub const PNG_MIME: &str = "image/png";

/// The WAV's MIME type; the suite requires exactly this one.
pub const WAV_MIME: &str = "audio/wav";

/// The PNG's bytes.
pub fn png() -> Vec<u8> {
    STANDARD
        .decode(PNG_BASE64)
        .expect("the PNG sample is valid base64")
}

/// The WAV's bytes.
pub fn wav() -> Vec<u8> {
    STANDARD
        .decode(WAV_BASE64)
        .expect("the WAV sample is valid base64")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_decode_to_their_formats() {
        assert!(png().starts_with(b"\x89PNG\r\n\x1a\n"));
        let wav = wav();
        assert!(wav.starts_with(b"RIFF") && &wav[8..12] == b"WAVE");
    }
}
