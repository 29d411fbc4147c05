"""The baseline a Django team would ship: Django's admin changelist for the User model."""

from django.contrib import admin

from accounts.models import User


class BenchAdminSite(admin.AdminSite):
    site_header = "bench"

    def has_permission(self, request):
        # Any signed-in console admin may open it (the User model has no is_staff).
        return request.user.is_active and getattr(request.user, "is_admin", False)


class UserAdmin(admin.ModelAdmin):
    list_display = ("name", "login_id", "role", "is_active", "extension", "last_login")
    search_fields = ("name", "login_id", "extension")
    list_filter = ("role", "is_active")
    list_per_page = 50
    ordering = ("name", "id")

    def get_queryset(self, request):
        return super().get_queryset(request).filter(organization=request.user.organization)

    def has_view_permission(self, request, obj=None):
        return True

    def has_module_permission(self, request):
        return True


site = BenchAdminSite(name="benchadmin")
site.register(User, UserAdmin)
