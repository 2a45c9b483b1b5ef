def test_admin_sees_status(admin):
    response = admin.get("/account/status")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["account"]["name"] == "Demo Co."
    assert body["card_on_file"]["last4"] == "4242"
