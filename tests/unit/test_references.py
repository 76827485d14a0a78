"""The reference requests: a correct deployment's and a plain-HTTP deployment's version of a forwarded request."""

from offload.references import correct, plain

PUBLIC = "www.contoso.example"


def test_a_correct_deployment_has_the_public_host_and_says_https():
    forwarded = [("Host", "127.0.0.1:3000"), ("X-ARR-SSL", "2048|256|C=US|CN=x"), ("Cookie", "sid=1")]
    ref = correct(forwarded, PUBLIC)
    assert ("Host", PUBLIC) in ref and ("X-Forwarded-Proto", "https") in ref and ("X-Forwarded-Host", PUBLIC) in ref
    assert ("X-ARR-SSL", "2048|256|C=US|CN=x") in ref and ("Cookie", "sid=1") in ref  # the profile's others stay
    assert [k for k, _ in ref].count("Host") == 1


def test_no_reference_when_the_front_end_already_forwards_a_correct_deployment():
    forwarded = [("Host", PUBLIC), ("X-Forwarded-Proto", "https"), ("X-Forwarded-Host", PUBLIC)]
    assert correct(forwarded, PUBLIC) is None
    assert correct(forwarded + [("X-Forwarded-Proto", "http")], PUBLIC) is not None  # two values: not correct


def test_a_plain_http_deployment_sends_no_forwarded_headers_and_http_origins():
    forwarded = [("Host", "127.0.0.1:3000"), ("X-Forwarded-Proto", "https"), ("X-Forwarded-For", "203.0.113.7"),
                 ("Forwarded", "proto=https"), ("X-Azure-Ref", "abc"), ("Origin", f"https://{PUBLIC}"),
                 ("Referer", f"https://{PUBLIC}/form?x=1"), ("Content-Type", "application/x-www-form-urlencoded")]
    out = plain(forwarded, PUBLIC, added=["X-Azure-Ref"])
    assert out == [("Host", PUBLIC), ("Origin", f"http://{PUBLIC}"), ("Referer", f"http://{PUBLIC}/form?x=1"),
                   ("Content-Type", "application/x-www-form-urlencoded")]
    other = plain([("Origin", "https://elsewhere.example")], PUBLIC)
    assert ("Origin", "https://elsewhere.example") in other  # another site's origin stays what it is
