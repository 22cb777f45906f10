from django.contrib.auth.models import AbstractUser
from django.db import models
from django_scim.models import AbstractSCIMGroupMixin, AbstractSCIMUserMixin


class User(AbstractSCIMUserMixin, AbstractUser):
    @property
    def scim_groups(self):
        return self.scim_group_set


class ScimGroup(AbstractSCIMGroupMixin):
    name = models.CharField(max_length=150, unique=True)
    members = models.ManyToManyField(User, related_name="scim_group_set", blank=True)

    @property
    def user_set(self):
        return self.members
