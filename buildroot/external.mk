include $(sort $(wildcard $(BR2_EXTERNAL_RPIBSP_PATH)/package/*/*.mk))
