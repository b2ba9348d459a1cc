//! Every vendor style under `fixtures/onvif/` parses into the same model values.

use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use super::media::{MediaProfile, MediaVersion, VideoCodec, VideoEncoder};
use super::security::{ClockOffset, UtcDateTime};
use super::{device, discovery, media, ptz};

fn vendors() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/onvif");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
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
