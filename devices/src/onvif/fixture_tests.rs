//! Every vendor style under `fixtures/onvif/*-style/` parses into the same model values,
//! and every answer captured from a real camera under `fixtures/onvif/captures/` parses
//! into the values it states.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use super::device::{DeviceInformation, ServiceAddresses};
use super::media::{MediaProfile, MediaVersion, VideoCodec, VideoEncoder};
use super::security::{ClockOffset, UtcDateTime};
use super::{OnvifError, device, discovery, media, ns, ptz};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/onvif")
}

fn vendors() -> Vec<PathBuf> {
    let root = fixtures();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir() && p.to_string_lossy().ends_with("-style"))
        .collect();
    dirs.sort();
    assert!(
        dirs.len() >= 3,
        "fewer than three vendor styles in {}",
        root.display()
    );
    dirs
}

fn read(dir: &Path, name: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(name)).ok()
}

fn load(dir: &Path, name: &str) -> String {
    read(dir, name).unwrap_or_else(|| panic!("{}/{name} missing", dir.display()))
}

fn expected_profiles() -> Vec<MediaProfile> {
    let profile = |token: &str, width, height| MediaProfile {
        token: token.into(),
        name: String::new(),
        video: Some(VideoEncoder {
            codec: VideoCodec::H264,
            width,
            height,
        }),
        ptz_configuration_token: Some("PTZToken".into()),
    };
    vec![
        profile("Profile_1", 1920, 1080),
        profile("Profile_2", 640, 360),
    ]
}

const RTSP: &str = "rtsp://192.0.2.10:554/live?profile=Profile_1&unicast=true";
const SNAPSHOT: &str = "http://192.0.2.10/onvif/snapshot?profile=Profile_1";
const HOST: &str = "http://192.0.2.10";

#[test]
fn every_vendor_style_parses_to_the_same_models() {
    for dir in vendors() {
        let vendor = dir.file_name().unwrap().to_string_lossy().into_owned();

        let time = device::parse_system_date_and_time(&load(&dir, "GetSystemDateAndTime.xml"))
            .unwrap_or_else(|e| panic!("{vendor}: time: {e}"));
        assert_eq!(
            time.utc,
            UtcDateTime::from_unix_seconds(1_795_858_200),
            "{vendor}"
        );
        assert!(time.time_zone.is_some(), "{vendor}");
        let ours = UNIX_EPOCH + Duration::from_secs(1_795_858_200 + 30);
        assert_eq!(ClockOffset::between(time.utc, ours).seconds, -30);

        let info = device::parse_device_information(&load(&dir, "GetDeviceInformation.xml"))
            .unwrap_or_else(|e| panic!("{vendor}: info: {e}"));
        for field in [
            &info.manufacturer,
            &info.model,
            &info.firmware_version,
            &info.serial_number,
            &info.hardware_id,
        ] {
            assert!(!field.is_empty(), "{vendor}: {info:?}");
        }

        let caps = device::parse_capabilities(&load(&dir, "GetCapabilities.xml"))
            .unwrap_or_else(|e| panic!("{vendor}: caps: {e}"));
        let services = device::parse_services(&load(&dir, "GetServices.xml"))
            .unwrap_or_else(|e| panic!("{vendor}: services: {e}"));
        for addrs in [&caps, &services] {
            assert_eq!(
                addrs.device.as_deref(),
                Some(&*format!("{HOST}/onvif/device_service")),
                "{vendor}"
            );
            assert_eq!(
                addrs.media.as_deref(),
                Some(&*format!("{HOST}/onvif/Media")),
                "{vendor}"
            );
            assert_eq!(
                addrs.ptz.as_deref(),
                Some(&*format!("{HOST}/onvif/PTZ")),
                "{vendor}"
            );
            assert_eq!(
                addrs.events.as_deref(),
                Some(&*format!("{HOST}/onvif/Events")),
                "{vendor}"
            );
        }
        assert_eq!(caps.media2, None);
        let has_media2 = read(&dir, "GetProfiles-media2.xml").is_some();
        assert_eq!(
            services.media2.is_some(),
            has_media2,
            "{vendor}: Media2 in GetServices"
        );

        let mut versions = vec![(MediaVersion::Media1, "")];
        if has_media2 {
            versions.push((MediaVersion::Media2, "-media2"));
        }
        for (version, suffix) in versions {
            let mut profiles =
                media::parse_profiles(version, &load(&dir, &format!("GetProfiles{suffix}.xml")))
                    .unwrap_or_else(|e| panic!("{vendor}: profiles: {e}"));
            for p in &mut profiles {
                assert!(!p.name.is_empty(), "{vendor}: {p:?}");
                p.name.clear(); // vendor strings
            }
            assert_eq!(profiles, expected_profiles(), "{vendor} {version:?}");
            let uri =
                media::parse_stream_uri(version, &load(&dir, &format!("GetStreamUri{suffix}.xml")));
            assert_eq!(uri.as_deref(), Ok(RTSP), "{vendor} {version:?}");
            let uri = media::parse_snapshot_uri(
                version,
                &load(&dir, &format!("GetSnapshotUri{suffix}.xml")),
            );
            assert_eq!(uri.as_deref(), Ok(SNAPSHOT), "{vendor} {version:?}");
        }

        let presets = ptz::parse_presets(&load(&dir, "GetPresets.xml"))
            .unwrap_or_else(|e| panic!("{vendor}: presets: {e}"));
        assert_eq!(presets.len(), 2, "{vendor}");
        assert_eq!(
            (presets[0].token.as_str(), presets[0].name.as_str()),
            ("1", "Gate")
        );
        let position = presets[0].position.expect("position");
        assert_eq!(position.pan_tilt, Some((0.25, -0.5)), "{vendor}");
        assert_eq!(position.zoom, Some(0.0), "{vendor}");
        assert_eq!(
            (presets[1].token.as_str(), presets[1].position),
            ("2", None)
        );
        assert_eq!(
            ptz::parse_set_preset(&load(&dir, "SetPreset.xml")).as_deref(),
            Ok("3")
        );
        ptz::parse_ack("ContinuousMove", &load(&dir, "ContinuousMove.xml"))
            .unwrap_or_else(|e| panic!("{vendor}: ack: {e}"));

        let fault =
            media::parse_profiles(MediaVersion::Media1, &load(&dir, "Fault-NotAuthorized.xml"))
                .err()
                .unwrap_or_else(|| panic!("{vendor}: fault parsed"));
        assert!(fault.is_auth_failure(), "{vendor}: {fault:?}");
        assert_eq!(fault.operation(), "GetProfiles");

        let probe = discovery::parse_probe_matches(&load(&dir, "ProbeMatches.xml"))
            .unwrap_or_else(|e| panic!("{vendor}: probe: {e}"));
        assert_eq!(
            probe.relates_to.as_deref(),
            Some("urn:uuid:6e1b4b2a-0c4e-4a55-9b1c-2f9d0e6b7a11")
        );
        let [m] = probe.matches.as_slice() else {
            panic!("{vendor}: {probe:?}")
        };
        assert_eq!(m.xaddrs, [format!("{HOST}/onvif/device_service")]);
        assert!(
            m.name
                .as_deref()
                .is_some_and(|n| n.ends_with(" Gate North")),
            "{vendor}: {m:?}"
        );
        assert_eq!(m.hardware.as_deref(), Some(info.model.as_str()), "{vendor}");
        assert_eq!(m.location.as_deref(), Some("site/gas-station-7"));
        assert!(m.types.iter().any(|t| t == "dn:NetworkVideoTransmitter"));
        assert_eq!(m.metadata_version, Some(1));
        assert!(!m.endpoint_reference.is_empty());
    }
}

// ---------------------------------------------------------------------------------------
// Captured answers (fixtures/onvif/captures/<vendor>/, sources in its README.md).

/// Reads `captures/<path>` and records that the test used it.
struct Captures {
    root: PathBuf,
    used: BTreeSet<String>,
}

impl Captures {
    fn load(&mut self, path: &str) -> String {
        self.used.insert(path.to_owned());
        std::fs::read_to_string(self.root.join(path))
            .unwrap_or_else(|e| panic!("captures/{path}: {e}"))
    }

    /// Every `*.xml` under `captures/`, as `<vendor>/<file>`.
    fn present(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for vendor in std::fs::read_dir(&self.root)
            .unwrap()
            .filter_map(Result::ok)
        {
            if !vendor.path().is_dir() {
                continue;
            }
            for file in std::fs::read_dir(vendor.path())
                .unwrap()
                .filter_map(Result::ok)
            {
                let name = file.file_name().to_string_lossy().into_owned();
                if name.ends_with(".xml") {
                    out.insert(format!("{}/{name}", vendor.file_name().to_string_lossy()));
                }
            }
        }
        out
    }
}

fn info(manufacturer: &str, model: &str, firmware: &str, hardware: &str) -> DeviceInformation {
    DeviceInformation {
        manufacturer: manufacturer.into(),
        model: model.into(),
        firmware_version: firmware.into(),
        serial_number: "SERIAL-REDACTED".into(),
        hardware_id: hardware.into(),
    }
}

fn profile(
    token: &str,
    name: &str,
    codec: VideoCodec,
    (width, height): (u32, u32),
    ptz: Option<&str>,
) -> MediaProfile {
    MediaProfile {
        token: token.into(),
        name: name.into(),
        video: Some(VideoEncoder {
            codec,
            width,
            height,
        }),
        ptz_configuration_token: ptz.map(Into::into),
    }
}

fn fault_codes(err: &OnvifError) -> (String, Vec<String>, String) {
    match err {
        OnvifError::Fault {
            code,
            subcodes,
            reason,
            ..
        } => (
            code.raw.clone(),
            subcodes.iter().map(|c| c.raw.clone()).collect(),
            reason.clone(),
        ),
        other => panic!("not a fault: {other:?}"),
    }
}

#[test]
fn captured_answers_parse_to_the_values_they_state() {
    let mut c = Captures {
        root: fixtures().join("captures"),
        used: BTreeSet::new(),
    };
    let m1 = MediaVersion::Media1;

    // --- Hikvision ------------------------------------------------------------------
    let probe =
        discovery::parse_probe_matches(&c.load("hikvision/ProbeMatches-DS-2CD3955FWD-IWS.xml"))
            .unwrap();
    assert_eq!(
        probe.relates_to.as_deref(),
        Some("uuid:bfe8bb88-03a2-4e1a-904a-59a7d2882649")
    );
    let [m] = probe.matches.as_slice() else {
        panic!("{probe:?}")
    };
    assert_eq!(
        m.endpoint_reference,
        "urn:uuid:18ec6401-3aa0-11b5-83f6-00005e005301"
    );
    assert_eq!(m.types, ["dn:NetworkVideoTransmitter", "tds:Device"]);
    assert_eq!(
        m.xaddrs,
        [
            "http://192.168.0.218/onvif/device_service",
            "http://[fe80::200:5eff:fe00:5301]/onvif/device_service"
        ]
    );
    assert_eq!(m.scopes.len(), 8);
    assert_eq!(m.hardware.as_deref(), Some("DS-2CD3955FWD-IWS"));
    assert_eq!(m.name.as_deref(), Some("HIKVISION DS-2CD3955FWD-IWS"));
    assert_eq!(m.location.as_deref(), Some("city/hangzhou"));
    assert_eq!(m.metadata_version, Some(10));

    assert_eq!(
        device::parse_device_information(
            &c.load("hikvision/GetDeviceInformation-DS-2CD3T45P1-I.xml")
        ),
        Ok(info(
            "HIKVISION",
            "DS-2CD3T45P1-I",
            "V5.5.31 build 180903",
            "88"
        ))
    );

    // The main stream's `tt:Encoding` says H264 while the non-schema `encoding` attribute
    // says H265: the attribute names the stream's real codec.
    assert_eq!(
        media::parse_profiles(m1, &c.load("hikvision/GetProfiles.xml")),
        Ok(vec![
            profile(
                "Profile_1",
                "mainStream",
                VideoCodec::H265,
                (1920, 1080),
                None
            ),
            profile("Profile_2", "subStream", VideoCodec::H264, (640, 360), None),
        ])
    );

    let err =
        media::parse_profiles(m1, &c.load("hikvision/Fault-SetOSD-InvalidArgVal.xml")).unwrap_err();
    assert!(!err.is_auth_failure(), "{err:?}");
    assert_eq!(
        fault_codes(&err),
        (
            "env:Sender".into(),
            vec!["ter:InvalidArgVal".into(), "ter:InvalidParameter".into()],
            "the parameter value is illegal".into()
        )
    );
    if let OnvifError::Fault { code, subcodes, .. } = &err {
        assert!(code.is(ns::SOAP12, "Sender"));
        assert!(subcodes[0].is(ns::ERROR, "InvalidArgVal"));
    }

    // --- Dahua ----------------------------------------------------------------------
    let rtsp =
        "rtsp://192.168.1.123:554/cam/realmonitor?channel=1&subtype=1&unicast=true&proto=Onvif";
    assert_eq!(
        media::parse_stream_uri(m1, &c.load("dahua/GetStreamUri.xml")).as_deref(),
        Ok(rtsp)
    );
    // Pretty-printed: the URI follows a line break and indentation inside `tt:Uri`.
    assert_eq!(
        media::parse_stream_uri(m1, &c.load("dahua/GetStreamUri-reformatted.xml")).as_deref(),
        Ok(rtsp)
    );
    assert_eq!(
        media::parse_snapshot_uri(m1, &c.load("dahua/GetSnapshotUri.xml")).as_deref(),
        Ok("http://192.168.1.123/onvifsnapshot/media_service/snapshot?channel=1&subtype=1")
    );
    let dahua = |path: &str| Some(format!("http://192.168.1.123/onvif/{path}"));
    assert_eq!(
        device::parse_capabilities(&c.load("dahua/GetCapabilities.xml")),
        Ok(ServiceAddresses {
            device: dahua("device_service"),
            media: dahua("media_service"),
            media2: None,
            ptz: None,
            events: dahua("event_service"),
            imaging: dahua("imaging_service"),
        })
    );

    // --- Axis -----------------------------------------------------------------------
    assert_eq!(
        device::parse_device_information(&c.load("axis/GetDeviceInformation-M5525-E.xml")),
        Ok(info("AXIS", "M5525-E", "8.40.1.1", "757"))
    );
    // One endpoint for every service but the device service.
    let axis = |path: &str| Some(format!("http://192.168.4.12/onvif/{path}"));
    let expected = ServiceAddresses {
        device: axis("device_service"),
        media: axis("services"),
        media2: None,
        ptz: axis("services"),
        events: axis("services"),
        imaging: None,
    };
    assert_eq!(
        device::parse_capabilities(&c.load("axis/GetCapabilities-M5525-E.xml")),
        Ok(expected.clone())
    );
    assert_eq!(
        device::parse_services(&c.load("axis/GetServices-M5525-E.xml")),
        Ok(expected)
    );
    assert_eq!(
        media::parse_profiles(m1, &c.load("axis/GetProfiles-M5525-E.xml")),
        Ok(vec![
            profile(
                "profile_1_h264",
                "profile_1 h264",
                VideoCodec::H264,
                (1920, 1080),
                Some("0")
            ),
            profile(
                "profile_1_jpeg",
                "profile_1 jpeg",
                VideoCodec::Jpeg,
                (1920, 1080),
                Some("0")
            ),
        ])
    );
    assert_eq!(
        media::parse_stream_uri(m1, &c.load("axis/GetStreamUri-M5525-E.xml")).as_deref(),
        Ok(
            "rtsp://192.168.4.12/onvif-media/media.amp?profile=profile_1_h264&sessiontimeout=60&streamtype=unicast"
        )
    );
    let time =
        device::parse_system_date_and_time(&c.load("axis/GetSystemDateAndTime.xml")).unwrap();
    assert_eq!(
        time.utc,
        UtcDateTime {
            year: 2024,
            month: 7,
            day: 9,
            hour: 19,
            minute: 49,
            second: 6
        }
    );
    assert!(!time.ntp);
    assert!(time.daylight_savings);
    assert_eq!(time.time_zone.as_deref(), Some("BRT3"));

    // Every captured file is asserted on above.
    assert_eq!(
        c.used,
        c.present(),
        "captures without assertions (or missing)"
    );
    let vendors: BTreeSet<&str> = c.used.iter().filter_map(|p| p.split('/').next()).collect();
    assert!(vendors.len() >= 3, "{vendors:?}");
}
