"""What the examples' tests share with their conftest: the secret the examples' server signs with."""

EXAMPLES_WEBHOOK_SECRET = "whsec_ZXhhbXBsZXMtc2VjcmV0LWZvci1idWRhaS10ZXN0cw=="
