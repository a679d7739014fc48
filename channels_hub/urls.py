app_name = "channels_hub"
urlpatterns = []
