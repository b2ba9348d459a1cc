//! What an ONVIF camera (or anything on the LAN answering a WS-Discovery probe) sends
//! back: every SOAP response parser of `watchpost_devices::onvif` (device, media and
//! media2, PTZ, faults, ProbeMatches) and the request builders' XML escaping, on arbitrary
//! bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    watchpost_devices::onvif::fuzzing::soap_response(data);
});
