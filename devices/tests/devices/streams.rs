//! Inventory cameras as hub sources: an ONVIF camera whose stream URI changes (as after a
//! reboot) is asked again after the connect to the old URI fails, and then plays.
//!
//! The camera's ONVIF side is the simulator's own SOAP handler (`fixtures::onvif::soap`,
//! sync, no sockets) behind a [`SoapTransport`] whose answers the test can change; its
//! RTSP side is a real simulated camera.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use watchpost_config::RtspTransport;
use watchpost_devices::onvif::client::{HttpReply, OnvifClient, SoapTransport, TransportError};
use watchpost_devices::onvif_camera::{OnvifCamera, SystemClock};
use watchpost_devices::streams::{RtspSettings, StreamOrigin, camera_paths};
use watchpost_fixtures::onvif::soap::{self, DeviceState, Now, Service};
use watchpost_fixtures::onvif::{DeviceSpec, ProfileSpec};
use watchpost_fixtures::sim::{Profile, Simulator, test_camera};
use watchpost_media::hub::{Backoff, Hub, HubConfig, ReaderEvent};

/// A camera's ONVIF services answered in-process; `GetStreamUri` calls are counted.
struct FakeCamera {
    spec: Mutex<DeviceSpec>,
    state: Mutex<DeviceState>,
    stream_uri_calls: AtomicUsize,
    started: Instant,
}

impl FakeCamera {
    /// What the camera answers to `envelope` POSTed to `url` with SOAP action `action`.
    fn answer(&self, url: &str, action: &str, envelope: &str) -> HttpReply {
        if action.ends_with("/GetStreamUri") {
            self.stream_uri_calls.fetch_add(1, Ordering::SeqCst);
        }
        let path = url.split_once("127.0.0.1:1").map_or("", |(_, p)| p);
        let service = Service::from_path(path).expect("a known service path");
        let spec = self.spec.lock().unwrap().clone();
        let answer = soap::handle(
            &spec,
            &mut self.state.lock().unwrap(),
            1,
            service,
            envelope,
            Now {
                wall: SystemTime::now(),
                mono: self.started.elapsed(),
            },
        );
        HttpReply {
            status: answer.status,
            body: answer.body,
        }
    }
}

fn profile(token: &str, width: u32, height: u32, uri: &str) -> ProfileSpec {
    ProfileSpec {
        token: token.to_owned(),
        name: token.to_owned(),
        encoding: "H264".to_owned(),
        width,
        height,
        fps: 15,
        bitrate_kbps: 256,
        stream_uri: uri.to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_stream_uri_is_asked_again_after_a_failed_connect() {
    let sim = Simulator::start(vec![test_camera("moved")]).unwrap();
    // Before the "reboot" the camera reports a port where nothing listens.
    let dead = "rtsp://127.0.0.1:9/main";
    let camera = Arc::new(FakeCamera {
        spec: Mutex::new(DeviceSpec {
            name: "moved".into(),
            title: "Moved".into(),
            manufacturer: "Test".into(),
            model: "Fake".into(),
            firmware_version: "1".into(),
            serial_number: "1".into(),
            profiles: vec![
                profile("main", 320, 240, dead),
                profile("sub", 160, 120, "rtsp://127.0.0.1:9/sub"),
            ],
            credentials: None,
        }),
        state: Mutex::new(DeviceState::default()),
        stream_uri_calls: AtomicUsize::new(0),
        started: Instant::now(),
    });
    let onvif = OnvifCamera::new(
        OnvifClient::new(
            SharedCamera(camera.clone()),
            "moved",
            "http://127.0.0.1:1/onvif/device_service",
            None,
        ),
        Arc::new(SystemClock),
    );
    let rtsp = RtspSettings {
        username: None,
        password: None,
        transport: RtspTransport::Tcp,
        policies: Vec::new(),
    };
    let paths = camera_paths("moved", &StreamOrigin::Onvif(Arc::new(onvif)), &rtsp).unwrap();
    let hub = Hub::spawn(
        HubConfig {
            start_timeout: Duration::from_secs(30),
            backoff: Backoff::new(Duration::from_millis(100), Duration::from_millis(300), 0.1),
            ..HubConfig::default()
        },
        paths,
    )
    .unwrap();

    let mut reader = hub.add_reader("cam/moved/main").await.unwrap();
    // The first connects fail on the dead port; each failure makes the source ask again.
    let deadline = Instant::now() + Duration::from_secs(20);
    while camera.stream_uri_calls.load(Ordering::SeqCst) < 2 {
        assert!(Instant::now() < deadline, "the URI was not asked again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stats = hub.path("cam/moved/main").await.unwrap();
    let error = stats.last_error.expect("a failed connect is recorded");
    assert!(error.message.contains("127.0.0.1:9"), "{error:?}");

    // The camera "reboots" with its stream on another port: the next retry finds it.
    camera.spec.lock().unwrap().profiles[0].stream_uri = sim.url("moved", Profile::Main).unwrap();
    let mut frames = 0;
    while frames < 3 {
        let event = tokio::time::timeout(Duration::from_secs(30), reader.next())
            .await
            .expect("frames after the URI changed")
            .expect("reader open");
        if let ReaderEvent::Frame(_) = event {
            frames += 1;
        }
    }
    let stats = hub.path("cam/moved/main").await.unwrap();
    assert_eq!(stats.state, "ready");
    assert!(
        stats
            .source
            .contains(&sim.url("moved", Profile::Main).unwrap()),
        "{}",
        stats.source
    );
    hub.shutdown().await;
}

/// [`FakeCamera`] as the client's transport, shared with the test.
struct SharedCamera(Arc<FakeCamera>);

impl SoapTransport for SharedCamera {
    async fn post(
        &self,
        url: &str,
        action: &str,
        envelope: String,
    ) -> Result<HttpReply, TransportError> {
        Ok(self.0.answer(url, action, &envelope))
    }
}
