"""Production static files: collectstatic with the manifest storage must succeed (make serve runs it).

The manifest storage follows every url() and sourceMappingURL in CSS/JS and refuses a reference to a
file that is not there, which a vendored npm build can carry (Chart.js points at a .map we do not ship).
"""

from django.core.management import call_command
from django.test import override_settings


def test_collectstatic_with_the_manifest_storage_succeeds(tmp_path):
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    with override_settings(STATIC_ROOT=tmp_path, STORAGES=storages):
        call_command("collectstatic", "--noinput", verbosity=0)
    assert (tmp_path / "staticfiles.json").exists()
    assert list(tmp_path.glob("vendor/chartjs/chart.umd.min.*.js"))
