"""Image transformations at /storage/v1/render/image/{authenticated,public,sign}: storage3's
transform options (width, height, resize, format, quality) on JPEG, PNG and WebP sources,
policies as for downloads, a cache keyed by content hash and transformation, and bad
parameters answered in the storage error shape."""

from __future__ import annotations

import io

import httpx
import pytest
from conftest import RunningNode, signed_up
from PIL import Image
from supabase import Client

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
