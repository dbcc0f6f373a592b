"""Regenerate docs/page.png, the README's picture of `fastbp explain --format html`.

Run from a checkout with the test extra installed and Debian's chromium and
chromium-driver (see .ci/run):  .venv/bin/python docs/screenshot.py
"""

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.keys import Keys

HERE = Path(__file__).resolve().parent


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        page = Path(folder) / "tutorial.html"
        subprocess.run([sys.executable, "-m", "fastbp", "explain", "--tutorial", "--format",
                        "html", "--epochs", "10000", "--output", str(page)], check=True)
        options = webdriver.ChromeOptions()
        options.binary_location = shutil.which("chromium")
        for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                     "--window-size=1360,1160"):
            options.add_argument(flag)
        browser = webdriver.Chrome(service=Service(shutil.which("chromedriver")),
                                   options=options)
        try:
            browser.get(page.as_uri())
            for _ in range(15):  # to dE_total/dw5, the text's first gradient
                browser.find_element("id", "next").click()
            slider = browser.find_element("id", "slider")
            for _ in range(150):
                slider.send_keys(Keys.ARROW_RIGHT)
            browser.execute_script("window.scrollTo(0, 0)")
            browser.save_screenshot(str(HERE / "page.png"))
        finally:
            browser.quit()
    print(f"wrote {HERE / 'page.png'}")


if __name__ == "__main__":
    main()
