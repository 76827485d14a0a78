"""scripts/bench: the floor. What any emulating and diagnosing addon must do, and nothing more: append the default
profile's 11 request headers (as constants) in requestheaders, and have a response hook that does nothing."""

HEADERS = tuple((k.encode(), v.encode()) for k, v in [
    ("Max-Forwards", "10"),
    ("X-LiveUpgrade", "1"),
    ("X-WAWS-Unencoded-URL", "/route-1?page=1"),
    ("CLIENT-IP", "127.0.0.1:50123"),
    ("X-ARR-LOG-ID", "484e16be-3489-4fc9-9967-581587c8c56f"),
    ("DISGUISED-HOST", "127.0.0.1"),
    ("X-SITE-DEPLOYMENT-ID", "127"),
    ("WAS-DEFAULT-HOSTNAME", "127.0.0.1"),
    ("X-Original-URL", "/route-1?page=1"),
    ("X-Forwarded-For", "127.0.0.1:50123"),
    ("X-ARR-SSL", "2048|256|C=US, S=Washington, L=Redmond, O=Microsoft Corporation, OU=Microsoft IT, "
                  "CN=Microsoft IT SSL SHA2|CN=*.azurewebsites.net"),
])


class Floor:
    def requestheaders(self, flow):
        flow.request.headers.fields += HEADERS

    def response(self, flow):
        pass


addons = [Floor()]
