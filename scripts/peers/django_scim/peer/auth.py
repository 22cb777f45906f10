import os

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser


class BearerTokenMiddleware:
    """Test only: the static bearer token authenticates as one service user."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.user = AnonymousUser()
        if request.headers.get("Authorization") == "Bearer " + os.environ["SCIM_TOKEN"]:
            request.user, _ = get_user_model().objects.get_or_create(username="scim-client")
        return self.get_response(request)
