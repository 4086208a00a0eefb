"""`licensary check --deploy --fail-level WARNING` passes under production settings."""

import os
import secrets
import subprocess
import sys


def test_deploy_check_passes_under_production_settings(tmp_path):
    env = {
        **os.environ,
        "LICENSARY_DEBUG": "false",
        "LICENSARY_SECURE": "true",
        "LICENSARY_SECRET_KEY": secrets.token_urlsafe(50),
        "LICENSARY_DATA_DIR": str(tmp_path),
        "LICENSARY_ALLOWED_HOSTS": "licensary.example",
    }
    env.pop("DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "licensary.cli", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
