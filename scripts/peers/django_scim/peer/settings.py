# django-scim2 as a test peer: the Entra ID dialect of member removal. Test only; see
# scripts/test-peers, which sets PEER_DB, PEER_NETLOC and SCIM_TOKEN.
import os

SECRET_KEY = "test-only"
DEBUG = False
USE_TZ = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes", "django_scim", "peer"]
MIDDLEWARE = ["peer.auth.BearerTokenMiddleware", "django_scim.middleware.SCIMAuthCheckMiddleware"]
ROOT_URLCONF = "peer.urls"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["PEER_DB"]}}
AUTH_USER_MODEL = "peer.User"
SCIM_SERVICE_PROVIDER = {
    "NETLOC": os.environ["PEER_NETLOC"],
    "SCHEME": "http",
    "GROUP_MODEL": "peer.models.ScimGroup",
    "AUTHENTICATION_SCHEMES": [
        {"type": "oauthbearertoken", "name": "OAuth Bearer Token", "description": "test token"}
    ],
}
