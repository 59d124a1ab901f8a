"""The demo page in a real browser: Debian's headless Chromium, driven by Selenium, against the app
served on 127.0.0.1 with a tiny model trained here from generated talking-face clips.

It uploads a clip and checks that the page shows the pipeline's own score and label for that clip
and one face thumbnail per sampled frame, then uploads a corrupt file and checks that the page says
which file cannot be read (and shows no traceback). The screenshot of the result is saved in the
test's folder, and copied to ``$MSMIX_DEMO_SCREENSHOT`` when set (how ``docs/demo.png`` is made).
Skipped, with the reason in the summary (``pytest -rs``), where chromium or chromedriver is missing.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import imageio_ffmpeg
import pytest

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
if CHROMIUM is None or CHROMEDRIVER is None:
    pytest.skip("demo browser test needs Debian's chromium and chromium-driver on PATH "
                "(apt-get install -y chromium chromium-driver); not found", allow_module_level=True)
webdriver = pytest.importorskip("selenium.webdriver", reason="demo browser test needs selenium (the test extra)")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

import extraction_fixtures as fixtures  # noqa: E402
from demo.app import DemoArguments, build_demo, launch_options  # noqa: E402
from demo.views import format_sentiment  # noqa: E402

TRANSCRIPT = "i really love this movie"
SCREENSHOT_COPY = Path(os.environ["MSMIX_DEMO_SCREENSHOT"]).resolve() if os.environ.get("MSMIX_DEMO_SCREENSHOT") else None
RUN = "runs/tfn-msmix"  # the page shows the model as typed: a path relative to the clip folder, no machine path
BROWSER_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1400,1250")


def train_tiny_video_model(root: Path) -> str:
    """Extract a 4-clip dataset with the tiny local encoders and train TFN + MS-Mix on it for one epoch."""
    from data_processing.extract import main as extract_main
    from trainer.run import main as train_main

    models = fixtures.build_tiny_models(root / "extractors")
    clips = [fixtures.write_talking_clip(root, f"train{i}", 1.0, seed=i) for i in range(2)]
    rows = [("a", "train", 2.0, 0), ("b", "train", -1.0, 1), ("c", "valid", 1.0, 0), ("d", "test", -2.0, 1)]
    lines = ["id,video,text,label,split"] + [f"{name},{clips[c].name},{TRANSCRIPT},{label},{split}"
                                             for name, split, label, c in rows]
    (root / "clips.csv").write_text("\n".join(lines) + "\n")
    assert extract_main(["--manifest", str(root / "clips.csv"), "--output", str(root / "data"), "--text_model",
                         models["text"], "--audio_model", models["audio"], "--vision_model", models["vision"],
                         "--vision_fps", "5", "--device", "cpu"]) == 0
    overrides = "text_hidden_dim=8,text_out_dim=8,audio_hidden_dim=4,vision_hidden_dim=4,post_fusion_dim=8"
    train_main(["--dataset", str(root / "data"), "--backbone", "tfn", "--augmentation", "msmix",
                "--config_overrides", overrides, "--seeds", "1111", "--num_train_epochs", "2",
                "--per_device_train_batch_size", "2", "--output_dir", str(root / RUN), "--report_to", "none"])
    return str(root / RUN / "seed-1111")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def as_webm(clip: Path) -> Path:
    """The clip re-encoded as VP8 + Opus WebM, a format the browser's player shows."""
    target = clip.with_suffix(".webm")
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-v", "error", "-y", "-i", str(clip), "-c:v",
                    "libvpx", "-b:v", "800k", "-c:a", "libopus", str(target)], check=True, capture_output=True)
    return target


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The page on 127.0.0.1 with a freshly trained tiny model; yields (url, model folder, clip folder)."""
    root = tmp_path_factory.mktemp("demo_browser")
    model = train_tiny_video_model(root)
    args = DemoArguments(model=f"{RUN}/seed-1111", host="127.0.0.1", port=free_port(), max_seconds=20)
    previous = os.getcwd()
    os.chdir(root)
    page = build_demo(args)
    page.launch(**launch_options(args), prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{args.port}/", model, root
    finally:
        page.close()
        os.chdir(previous)


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*BROWSER_FLAGS, f"--user-data-dir={tempfile.mkdtemp(prefix='msmix-chromium-')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=webdriver.ChromeService(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def upload_and_analyse(browser, clip: Path, transcript: str) -> None:
    clear = browser.find_elements(By.CSS_SELECTOR, "#clip button[aria-label='Clear']")
    if clear:
        clear[0].click()
    WebDriverWait(browser, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#clip input[type=file]"))
    browser.find_element(By.CSS_SELECTOR, "#clip input[type=file]").send_keys(str(clip))
    box = browser.find_element(By.CSS_SELECTOR, "#transcript textarea")
    box.clear()
    box.send_keys(transcript)
    WebDriverWait(browser, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#clip video"))
    browser.find_element(By.ID, "analyse").click()


def test_page_shows_the_pipelines_score_for_an_uploaded_clip_and_a_readable_error_for_a_corrupt_one(
    served, browser, tmp_path
):
    from trainer.predict import load_sentiment_pipeline

    url, model, root = served
    clip = as_webm(fixtures.write_talking_clip(root, "upload", 1.5, seed=3))
    expected = load_sentiment_pipeline(model, device="cpu")(
        {"video": str(clip), "transcript": TRANSCRIPT}, return_details=True
    )

    browser.get(url)
    WebDriverWait(browser, 60).until(lambda d: d.find_elements(By.ID, "analyse"))
    upload_and_analyse(browser, clip, TRANSCRIPT)
    WebDriverWait(browser, 60).until(lambda d: d.find_elements(By.ID, "sentiment-value"))
    assert browser.find_element(By.ID, "sentiment-value").text == format_sentiment(expected["sentiment"])
    assert browser.find_element(By.ID, "sentiment-label").text == expected["label"]
    thumbnails = "#faces .thumbnail-item img, #faces button.thumbnail-item img"
    WebDriverWait(browser, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, thumbnails))
    assert len(browser.find_elements(By.CSS_SELECTOR, thumbnails)) == len(expected["details"]["face_crops"])
    assert browser.find_element(By.ID, "warnings").text == "No extraction warnings."
    model_box = browser.find_element(By.CSS_SELECTOR, "#model textarea, #model input")
    assert model_box.get_attribute("value") == f"{RUN}/seed-1111"
    assert str(root) not in browser.find_element(By.TAG_NAME, "body").text
    browser.execute_script("window.scrollTo(0, 0)")
    screenshot = tmp_path / "demo.png"
    assert browser.save_screenshot(str(screenshot))
    if SCREENSHOT_COPY is not None:
        shutil.copyfile(screenshot, SCREENSHOT_COPY)

    corrupt = root / "corrupt.mp4"
    corrupt.write_bytes(os.urandom(4096))
    upload_and_analyse(browser, corrupt, TRANSCRIPT)
    WebDriverWait(browser, 60).until(
        lambda d: any("corrupt.mp4" in toast.text for toast in d.find_elements(By.CSS_SELECTOR, ".toast-body.error"))
    )
    page_text = browser.find_element(By.TAG_NAME, "body").text
    assert "Traceback" not in page_text and "/gradio/" not in page_text
    browser.save_screenshot(str(tmp_path / "demo-error.png"))
