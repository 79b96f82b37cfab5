"""Image transformations at /storage/v1/render/image/{authenticated,public,sign}: storage3's
transform options (width, height, resize, format, quality) on JPEG, PNG and WebP sources,
WebP for clients whose Accept names it unless a format is given, AVIF on request, policies as
for downloads, a cache keyed by content hash, transformation and output format, and bad
parameters answered in the storage error shape."""

from __future__ import annotations

import io

import httpx
import pytest
from conftest import RunningNode, signed_up
from PIL import Image
from supabase import Client

from performer_edge.storage.render import AVIF, accepts

from .conftest import data_dir, new_bucket, storage_error


def image_bytes(kind: str, size: tuple[int, int] = (300, 200)) -> bytes:
    out = io.BytesIO()
    picture = Image.new("RGB", size, (200, 30, 30))
    picture.paste((20, 20, 220), (0, 0, size[0] // 2, size[1]))
    picture.save(out, format=kind)
    return out.getvalue()


def decoded(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


@pytest.fixture(scope="module")
def pictures(service: Client) -> str:
    bucket = new_bucket(service, public=True)
    files = service.storage.from_(bucket)
    for name, kind, mime in (
        ("p.png", "PNG", "image/png"),
        ("j.jpg", "JPEG", "image/jpeg"),
        ("w.webp", "WEBP", "image/webp"),
    ):
        files.upload(name, image_bytes(kind), {"content-type": mime})
    files.upload("notes.txt", b"not an image", {"content-type": "text/plain"})
    files.upload("broken.png", b"\x89PNG\r\n\x1a\n not really", {"content-type": "image/png"})
    return bucket


@pytest.mark.parametrize(
    ("options", "size"),
    [
        ({"width": 100, "height": 100}, (100, 100)),  # cover: filled and cropped
        ({"width": 100, "height": 100, "resize": "contain"}, (100, 67)),
        ({"width": 100, "height": 40, "resize": "fill"}, (100, 40)),
        ({"width": 150}, (150, 100)),
        ({"height": 50}, (75, 50)),
    ],
)
def test_public_transform_urls_resize_as_asked(
    service: Client, pictures: str, options: dict[str, object], size: tuple[int, int]
) -> None:
    url = service.storage.from_(pictures).get_public_url("p.png", {"transform": options})  # type: ignore[typeddict-item]
    assert "/render/image/public/" in url
    response = httpx.get(url)  # no credentials: a public bucket
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert decoded(response.content).size == size


@pytest.mark.parametrize("name", ["p.png", "j.jpg", "w.webp"])
def test_format_and_quality_convert_each_source_type(
    service: Client, pictures: str, name: str
) -> None:
    files = service.storage.from_(pictures)
    webp = files.download(name, {"transform": {"width": 60, "format": "webp", "quality": 50}})  # type: ignore[typeddict-item]
    assert decoded(webp).format == "WEBP" and decoded(webp).size == (60, 40)
    origin = files.download(name, {"transform": {"width": 60, "format": "origin"}})
    assert decoded(origin).format == decoded(files.download(name)).format


def test_signed_transform_urls_carry_their_transformation(service: Client, pictures: str) -> None:
    files = service.storage.from_(pictures)
    signed = files.create_signed_url("j.jpg", 60, {"transform": {"width": 50, "height": 50}})
    url = signed["signedURL"]
    assert "/render/image/sign/" in url
    response = httpx.get(url)
    assert response.status_code == 200 and decoded(response.content).size == (50, 50)
    # The token says the transformation: query parameters added to the URL do not change it.
    assert decoded(httpx.get(url + "&width=10").content).size == (50, 50)
    tampered = httpx.get(url.replace("j.jpg", "p.png"))
    assert tampered.status_code == 400 and tampered.json()["code"] == "InvalidSignature"


def test_policies_apply_as_for_downloads(node: RunningNode, service: Client) -> None:
    private = new_bucket(service)
    service.storage.from_(private).upload(
        "secret.png", image_bytes("PNG"), {"content-type": "image/png"}
    )
    base = f"{node.url}/storage/v1/render/image"
    public = httpx.get(f"{base}/public/{private}/secret.png?width=10")
    assert public.status_code == 400 and public.json()["statusCode"] == "404"
    user, _ = signed_up(node)
    error = storage_error(
        lambda: user.storage.from_(private).download("secret.png", {"transform": {"width": 10}})
    )
    assert error.status == "404"  # not found, as the download would say
    assert httpx.get(f"{base}/authenticated/{private}/secret.png?width=10").status_code == 401


def test_renders_are_cached_by_content_and_transformation(
    node: RunningNode, service: Client, pictures: str
) -> None:
    url = service.storage.from_(pictures).get_public_url(
        "w.webp",
        {"transform": {"width": 33, "height": 33, "quality": 61}},  # type: ignore[typeddict-item]
    )
    first = httpx.get(url)
    cached = list((data_dir(node) / "render-cache").glob("*"))
    assert any(first.content == path.read_bytes() for path in cached)
    again = httpx.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


def test_other_types_are_served_as_they_are(service: Client, pictures: str) -> None:
    url = service.storage.from_(pictures).get_public_url("notes.txt", {"transform": {"width": 9}})
    assert httpx.get(url).content == b"not an image"


@pytest.mark.parametrize(
    "query",
    [
        "width=0",
        "width=abc",
        "height=99999",
        "resize=stretch",
        "format=gif",
        "format=tiff",
        "quality=5",
        "quality=high",
    ],
)
def test_bad_parameters_get_the_storage_error_shape(
    node: RunningNode, pictures: str, query: str
) -> None:
    response = httpx.get(f"{node.url}/storage/v1/render/image/public/{pictures}/p.png?{query}")
    assert response.status_code == 400
    body = response.json()
    assert body["statusCode"] == "400" and body["code"] == "InvalidRequest"


def test_a_corrupt_image_gets_the_storage_error_shape(node: RunningNode, pictures: str) -> None:
    response = httpx.get(
        f"{node.url}/storage/v1/render/image/public/{pictures}/broken.png?width=10"
    )
    assert response.status_code == 400 and response.json()["code"] == "InvalidRequest"


BROWSER_ACCEPT = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"


def test_a_client_accepting_webp_gets_webp_unless_a_format_is_asked(
    node: RunningNode, service: Client, pictures: str
) -> None:
    url = service.storage.from_(pictures).get_public_url("p.png", {"transform": {"width": 61}})
    webp = httpx.get(url, headers={"Accept": BROWSER_ACCEPT})
    assert webp.headers["content-type"] == "image/webp" and webp.headers["vary"] == "Accept"
    assert decoded(webp.content).format == "WEBP" and decoded(webp.content).size == (61, 41)
    for accept in ("*/*", "image/webp;q=0, image/png", ""):
        png = httpx.get(url, headers={"Accept": accept})
        assert png.headers["content-type"] == "image/png", accept
        assert png.headers["vary"] == "Accept" and decoded(png.content).format == "PNG"
    assert png.headers["etag"] != webp.headers["etag"]
    conditional = {"Accept": BROWSER_ACCEPT, "If-None-Match": png.headers["etag"]}
    assert httpx.get(url, headers=conditional).status_code == 200  # not the PNG's ETag
    conditional["If-None-Match"] = webp.headers["etag"]
    assert httpx.get(url, headers=conditional).status_code == 304
    cached = [path.read_bytes() for path in (data_dir(node) / "render-cache").glob("*")]
    assert webp.content in cached and png.content in cached  # one entry per output format
    origin = httpx.get(url + "&format=origin", headers={"Accept": BROWSER_ACCEPT})
    assert origin.headers["content-type"] == "image/png" and "vary" not in origin.headers
    signed = service.storage.from_(pictures).create_signed_url(
        "j.jpg", 60, {"transform": {"width": 30}}
    )["signedURL"]
    assert httpx.get(signed, headers={"Accept": "image/webp"}).headers["content-type"] == (
        "image/webp"
    )
    assert httpx.get(signed).headers["content-type"] == "image/jpeg"


@pytest.mark.skipif(not AVIF, reason="this Pillow cannot encode AVIF")
def test_avif_on_request(service: Client, pictures: str) -> None:
    files = service.storage.from_(pictures)
    url = files.get_public_url("j.jpg", {"transform": {"width": 40, "format": "avif"}})  # type: ignore[typeddict-item]
    avif = httpx.get(url, headers={"Accept": "*/*"})
    assert avif.headers["content-type"] == "image/avif" and "vary" not in avif.headers
    assert decoded(avif.content).format == "AVIF" and decoded(avif.content).size == (40, 27)
    # Supabase optimises to WebP only: a client naming just AVIF gets the source's format.
    plain = files.get_public_url("j.jpg", {"transform": {"width": 40}})
    assert httpx.get(plain, headers={"Accept": "image/avif"}).headers["content-type"] == (
        "image/jpeg"
    )
    files.upload("a.avif", avif.content, {"content-type": "image/avif"})
    small = files.download("a.avif", {"transform": {"width": 20, "format": "origin"}})
    assert decoded(small).format == "AVIF" and decoded(small).size == (20, 14)


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("image/webp", True),
        ("IMAGE/WEBP;q=0.5", True),
        ("text/html, image/webp ;q=1", True),
        ("image/webp;q=0", False),
        ("image/webp;q=x", False),
        ("image/*,*/*", False),
        ("image/webpx", False),
        (None, False),
        ("", False),
    ],
)
def test_accept_names_webp_only_explicitly(accept: str | None, expected: bool) -> None:
    assert accepts(accept, "image/webp") is expected
